"""The case lifecycle: open, assign, accept, progress, co-handle, escalate, resolve,
rate, reopen, close — each a change plus an event plus the right notifications, inside
the caller's transaction.

Both conversation handlers (a resident's report, a handler's button) and the scheduler
(SLA sweep) drive cases through this one service, so an escalation by the clock and an
escalation by hand leave the same trail.

Usage::

    service = CaseService.of(ctx)
    case = await service.open(draft, reporter)
    await service.escalate(case, actor_id=None, reason="sla")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.catalog import Catalog
from bot.core.context import Context, CoreConfig
from bot.core.replies import Reply
from bot.outbox.enqueue import OutboxWriter
from bot.storage.db import dialect_insert
from bot.storage.models import (
    OPEN_STATUSES,
    Building,
    Case,
    CaseCounter,
    CaseEvent,
    CaseMember,
    CasePhoto,
    CaseStatus,
    Compound,
    ResponsibilityZone,
    RoleGrant,
    User,
)
from handlers import case_cards
from handlers.routing import Assignment, Holder, Place, Roster, Zone, route
from knowledge.matters import Matter, MatterTable, load_matters

CO = "co"
FOLLOWER = "follower"


@dataclass
class CaseDraft:
    compound_id: int
    matter_id: str
    text: str
    building_id: int | None = None
    floor: int | None = None
    room_id: int | None = None
    area: str = ""
    counterparty_room_id: int | None = None
    photos: tuple[str, ...] = ()


class CaseService:
    def __init__(
        self,
        session: AsyncSession,
        outbox: OutboxWriter,
        catalog: Catalog,
        now: datetime,
        config: CoreConfig | None = None,
        table: MatterTable | None = None,
    ) -> None:
        self.session = session
        self.outbox = outbox
        self.catalog = catalog
        self.now = now
        self.config = config or CoreConfig()
        self.sla_scale = self.config.sla_scale
        self.table = table or load_matters()

    @classmethod
    def of(cls, ctx: Context) -> CaseService:
        return cls(ctx.session, ctx.outbox, ctx.catalog, ctx.now, ctx.config)

    def matter(self, case: Case) -> Matter:
        return self.table.matters[case.matter_id]

    # -- roster -------------------------------------------------------------
    async def roster(self, compound_id: int) -> Roster:
        grants = (
            await self.session.scalars(
                select(RoleGrant).where(
                    (RoleGrant.compound_id == compound_id) | RoleGrant.compound_id.is_(None)
                )
            )
        ).all()
        zones = (
            await self.session.scalars(
                select(ResponsibilityZone)
                .join(Building, Building.id == ResponsibilityZone.building_id)
                .where(Building.compound_id == compound_id)
            )
        ).all()
        load = dict(
            (
                await self.session.execute(
                    select(Case.lead_id, func.count(Case.id))
                    .where(Case.compound_id == compound_id, Case.status.in_(OPEN_STATUSES))
                    .group_by(Case.lead_id)
                )
            ).all()
        )
        return Roster(
            holders=tuple(Holder(g.user_id, g.role, g.compound_id, g.building_id) for g in grants),
            zones=tuple(Zone(z.building_id, z.floor_from, z.floor_to, z.member_id) for z in zones),
            load={k: v for k, v in load.items() if k is not None},
        )

    # -- numbers ------------------------------------------------------------
    async def next_number(self, compound: Compound) -> str:
        """``SDDJ-2026-000123``: per compound and year, allocated under a row lock."""
        year = self.now.year
        insert = dialect_insert(self.session, CaseCounter).values(
            compound_id=compound.id, year=year, last=1
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["compound_id", "year"], set_={"last": CaseCounter.last + 1}
        ).returning(CaseCounter.last)
        last = await self.session.scalar(stmt)
        return f"{compound.code}-{year}-{last:06d}"

    # -- lifecycle ----------------------------------------------------------
    async def open(self, draft: CaseDraft, reporter: User) -> Case:
        matter = self.table.matters[draft.matter_id]
        compound = await self.session.get(Compound, draft.compound_id)
        assert compound is not None
        case = Case(
            number=await self.next_number(compound),
            compound_id=compound.id,
            kind=matter.kind,
            matter_id=matter.id,
            text=draft.text,
            building_id=draft.building_id,
            floor=draft.floor,
            room_id=draft.room_id,
            area=draft.area,
            counterparty_room_id=draft.counterparty_room_id,
            reporter_id=reporter.id,
            level=matter.home_level,
            status=CaseStatus.NEW,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(case)
        await self.session.flush()
        for ref in draft.photos:
            self.session.add(CasePhoto(case_id=case.id, file_ref=ref, added_by=reporter.id))
        await self.event(case, "reported", reporter.id, draft.text[:500])
        await self.assign(case, matter.home_level, actor_id=None)
        return case

    async def assign(
        self, case: Case, level: str, actor_id: int | None, reason: str = ""
    ) -> Assignment | None:
        """Route the case at ``level`` (or above, for a vacant post) and tell the new lead."""
        matter = self.matter(case)
        place = Place(case.compound_id, case.building_id, case.floor)
        assignment = route(matter, level, place, await self.roster(case.compound_id))
        if assignment is None:
            await self.event(case, "unassigned", actor_id, reason, {"level": level})
            return None
        case.level = assignment.level
        case.lead_id = assignment.lead_id
        case.status = CaseStatus.ASSIGNED if case.status != CaseStatus.REOPENED else case.status
        case.deadline = self.now + timedelta(hours=assignment.sla_hours * self.sla_scale)
        case.reminded_at = None
        case.updated_at = self.now
        for user_id, role in assignment.co:
            await self._add_member(case, user_id, CO, role, assignment.level)
        await self.event(
            case,
            "assigned",
            actor_id,
            reason,
            {
                "lead": assignment.lead_id,
                "lead_role": assignment.lead_role,
                "co": [u for u, _ in assignment.co],
                "vacancies": list(assignment.vacancies),
            },
            level=assignment.level,
        )
        await self.session.flush()
        await self._notify(assignment.lead_id, await case_cards.handler_card(self, case, "new"))
        for user_id, _role in assignment.co:
            await self._notify(user_id, await case_cards.handler_card(self, case, "co"))
        return assignment

    async def accept(self, case: Case, actor_id: int) -> None:
        case.status = CaseStatus.ACCEPTED
        case.accepted_at = case.accepted_at or self.now
        case.updated_at = self.now
        await self.event(case, "accepted", actor_id)
        await self.tell_residents(case, "case.notice_accepted", handler=await self.name(actor_id))
        await self.tell_counterparty(case)

    async def progress(self, case: Case, actor_id: int, text: str, photo: str | None) -> None:
        if case.status in (CaseStatus.ASSIGNED, CaseStatus.ACCEPTED):
            case.status = CaseStatus.IN_PROGRESS
        case.updated_at = self.now
        if photo:
            self.session.add(CasePhoto(case_id=case.id, file_ref=photo, added_by=actor_id))
        await self.event(case, "progress", actor_id, text, {"photo": photo} if photo else {})
        key = "case.notice_answer" if case.kind == "consult" else "case.notice_progress"
        await self.tell_residents(case, key, text=text or "📷")

    async def add_info(self, case: Case, actor_id: int, text: str, photo: str | None) -> None:
        if photo:
            self.session.add(CasePhoto(case_id=case.id, file_ref=photo, added_by=actor_id))
        await self.event(case, "info_added", actor_id, text, {"photo": photo} if photo else {})
        if case.lead_id is not None:
            reply = await case_cards.handler_card(self, case, "info", extra=text or "📷")
            await self._notify(case.lead_id, reply)

    async def add_co(self, case: Case, actor_id: int, user_id: int, role: str) -> None:
        await self._add_member(case, user_id, CO, role, case.level)
        await self.event(case, "co_requested", actor_id, "", {"user": user_id, "role": role})
        await self._notify(user_id, await case_cards.handler_card(self, case, "co"))

    async def escalate(self, case: Case, actor_id: int | None, reason: str) -> bool:
        """One level up the ladder; False when already at the top (then the top is told)."""
        matter = self.matter(case)
        previous_lead = case.lead_id
        target = matter.next_level(case.level)
        case.escalations += 1
        if target is None:
            await self.event(case, "overdue_at_top", actor_id, reason, level=case.level)
            case.deadline = self.now + timedelta(
                hours=matter.rule(case.level).sla_hours * self.sla_scale
            )
            if case.lead_id is not None:
                await self._notify(
                    case.lead_id, await case_cards.handler_card(self, case, "overdue")
                )
            return False
        await self.event(
            case, "escalated", actor_id, reason, {"from": case.level, "to": target}, level=target
        )
        assignment = await self.assign(case, target, actor_id, reason)
        if previous_lead is not None and (
            assignment is None or assignment.lead_id != previous_lead
        ):
            await self._notify(
                previous_lead,
                Reply(
                    self.catalog.t(
                        "case.notice_escalated_from",
                        number=case.number,
                        level=self.catalog.t(f"levels.{case.level}"),
                    ),
                    key="case.notice_escalated_from",
                ),
            )
        await self.tell_residents(
            case, "case.notice_escalated", level=self.catalog.t(f"levels.{case.level}")
        )
        return True

    async def resolve(self, case: Case, actor_id: int, note: str) -> None:
        case.status = CaseStatus.RESOLVED
        case.resolved_at = self.now
        case.updated_at = self.now
        await self.event(case, "resolved", actor_id, note)
        reporter_reply = case_cards.rating_request(self, case, note)
        await self._notify(case.reporter_id, reporter_reply)
        for follower in await self.members(case, FOLLOWER):
            await self._notify(
                follower,
                Reply(
                    self.catalog.t("case.notice_resolved", number=case.number, note=note),
                    key="case.notice_resolved",
                ),
            )

    async def rate(self, case: Case, actor_id: int, value: str) -> None:
        case.satisfaction = value
        case.updated_at = self.now
        await self.event(case, "rated", actor_id, value)
        if value == "unsatisfied":
            case.status = CaseStatus.REOPENED
            case.reopens += 1
            case.resolved_at = None
            await self.event(case, "reopened", actor_id, "unsatisfied")
            if case.lead_id is not None:
                await self._notify(
                    case.lead_id,
                    Reply(
                        self.catalog.t("case.notice_reopened", number=case.number),
                        key="case.notice_reopened",
                    ),
                )
            await self.escalate(case, actor_id, "unsatisfied")
        else:
            case.status = CaseStatus.CLOSED
            case.closed_at = self.now
            await self.event(case, "closed", actor_id, "rated")

    async def comment(self, case: Case, actor_id: int, text: str) -> None:
        case.comment = text
        await self.event(case, "commented", actor_id, text)

    async def close(self, case: Case, actor_id: int | None, reason: str) -> None:
        case.status = CaseStatus.CLOSED
        case.closed_at = self.now
        case.updated_at = self.now
        await self.event(case, "closed", actor_id, reason)
        await self.tell_residents(case, "case.notice_closed")

    async def reassign(self, case: Case, actor_id: int, lead_id: int) -> None:
        previous = case.lead_id
        case.lead_id = lead_id
        case.status = CaseStatus.ASSIGNED
        case.updated_at = self.now
        case.deadline = self.now + timedelta(
            hours=self.matter(case).rule(case.level).sla_hours * self.sla_scale
        )
        await self.event(case, "reassigned", actor_id, "", {"from": previous, "to": lead_id})
        await self._notify(lead_id, await case_cards.handler_card(self, case, "new"))
        if previous is not None and previous != lead_id:
            await self._notify(
                previous,
                Reply(
                    self.catalog.t("case.notice_reassigned_away", number=case.number),
                    key="case.notice_reassigned_away",
                ),
            )

    async def follow(self, case: Case, user_id: int) -> bool:
        added = await self._add_member(case, user_id, FOLLOWER, "", case.level)
        if added:
            await self.event(case, "followed", user_id)
        return added

    async def remind(self, case: Case) -> None:
        case.reminded_at = self.now
        await self.event(case, "reminded", None)
        if case.lead_id is not None:
            await self._notify(case.lead_id, await case_cards.handler_card(self, case, "reminder"))

    # -- reading ------------------------------------------------------------
    async def members(self, case: Case, part: str) -> list[int]:
        return list(
            (
                await self.session.scalars(
                    select(CaseMember.user_id)
                    .where(CaseMember.case_id == case.id, CaseMember.part == part)
                    .order_by(CaseMember.id)
                )
            ).all()
        )

    async def events(self, case: Case) -> list[CaseEvent]:
        return list(
            (
                await self.session.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
                )
            ).all()
        )

    async def name(self, user_id: int | None) -> str:
        if user_id is None:
            return self.catalog.t("case.system")
        user = await self.session.get(User, user_id)
        return user.name if user and user.name else self.catalog.t("case.someone")

    async def by_number(self, number: str) -> Case | None:
        return await self.session.scalar(select(Case).where(Case.number == number))

    # -- internals ----------------------------------------------------------
    async def event(
        self,
        case: Case,
        kind: str,
        actor_id: int | None,
        text: str = "",
        data: dict[str, Any] | None = None,
        level: str | None = None,
    ) -> None:
        self.session.add(
            CaseEvent(
                case_id=case.id,
                at=self.now,
                actor_id=actor_id,
                kind=kind,
                level=level or case.level,
                text=text,
                data=data or {},
            )
        )

    async def _add_member(self, case: Case, user_id: int, part: str, role: str, level: str) -> bool:
        exists = await self.session.scalar(
            select(CaseMember.id).where(
                CaseMember.case_id == case.id,
                CaseMember.user_id == user_id,
                CaseMember.part == part,
            )
        )
        if exists is not None:
            return False
        self.session.add(
            CaseMember(case_id=case.id, user_id=user_id, part=part, role=role, level=level)
        )
        await self.session.flush()
        return True

    async def _notify(self, user_id: int, reply: Reply) -> None:
        await self.outbox.notify_user(user_id, reply, origin=f"case:{reply.key}"[:80])

    async def tell_residents(self, case: Case, key: str, **params: object) -> None:
        """The reporter and every follower hear about each step of their case."""
        reply = case_cards.resident_notice(self, case, key, **params)
        for user_id in [case.reporter_id, *await self.members(case, FOLLOWER)]:
            await self._notify(user_id, reply)

    async def tell_counterparty(self, case: Case) -> None:
        """The other party of a dispute learns that *a neighbour* raised it — never who."""
        if case.counterparty_room_id is None:
            return
        residents = (
            await self.session.scalars(
                select(User.id).where(User.room_id == case.counterparty_room_id)
            )
        ).all()
        excluded = {case.reporter_id, *await self.members(case, FOLLOWER)}
        reply = await case_cards.counterparty_notice(self, case)
        for user_id in residents:
            if user_id not in excluded:
                await self._notify(user_id, reply)
