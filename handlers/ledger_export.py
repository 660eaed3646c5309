"""The ledger workbook (台账): every case, every event, the monthly statistics, the
matters per month and the 三维考评 sheet, for a period and some compounds.

The workbook leaves the system, so personal data is masked with the same rules and
words as ``linli cases`` (``handlers.case_records``) unless an administrator explicitly
asks to reveal it. Rows stream from one read-only snapshot in chunks into XlsxWriter's
constant-memory mode (``handlers.xlsx_stream``): 100,000 cases never sit in memory at once,
and the statistics sheet is computed by ``handlers.statistics`` from the same snapshot, so
its numbers are the ones ``linli stats --json`` and the chat report.

Usage::

    async with db.snapshot() as session:
        summary = await export_ledger(session, Path("ledger.xlsx"), catalog, LedgerOptions())
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.catalog import Catalog
from bot.storage.models import (
    Building,
    Case,
    CaseEvent,
    CaseMember,
    Compound,
    Floor,
    RoleGrant,
    Room,
    Unit,
    User,
    utcnow,
)
from handlers.case_records import mask_name, mask_phone, room_label
from handlers.evaluation import write_evaluation_sheet
from handlers.statistics import (
    STATUS_ORDER,
    Figures,
    Period,
    Scope,
    Statistics,
    case_filter,
    compute_statistics,
    overdue_condition,
)
from handlers.xlsx_stream import (
    DATETIME,
    DECIMAL,
    PERCENT,
    Column,
    StreamingWorkbook,
    local_naive,
)
from knowledge.law import load_law
from knowledge.matters import LEVELS, load_matters

CHUNK = 2000
# Events that name the new lead, and under which key of their data.
LEAD_EVENTS = {"assigned": "lead", "reassigned": "to"}
# Mainland mobile numbers inside free text (a report, a comment): masked like a phone field.
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


@dataclass(frozen=True)
class LedgerOptions:
    period: Period = field(default_factory=Period)
    scope: Scope = field(default_factory=Scope)
    reveal: bool = False
    weights: tuple[float, float] = (0.4, 0.6)
    now: datetime | None = None


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    cases: int
    events: int
    statistics: Statistics


def mask_text(text: str, reveal: bool) -> str:
    return text if reveal else _MOBILE.sub(r"\1****\3", text)


class _People:
    """Names, phones and flats looked up a chunk at a time and remembered; ``staff``
    are the users holding a role (handlers, whose names the ledger shows)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users: dict[int, tuple[str, str]] = {}
        self.rooms: dict[int, tuple[int, int, str]] = {}
        self.staff: set[int] = set()

    async def load(self, user_ids: Iterable[int | None], room_ids: Iterable[int | None]) -> None:
        users = {u for u in user_ids if u is not None and u not in self.users}
        if users:
            rows = await self.session.execute(
                select(User.id, User.name, User.phone).where(User.id.in_(users))
            )
            for user_id, name, phone in rows.tuples():
                self.users[user_id] = (name or "", phone or "")
            self.staff.update(
                (
                    await self.session.scalars(
                        select(RoleGrant.user_id).where(RoleGrant.user_id.in_(users)).distinct()
                    )
                ).all()
            )
        rooms = {r for r in room_ids if r is not None and r not in self.rooms}
        if rooms:
            rows = await self.session.execute(
                select(Room.id, Building.number, Unit.number, Room.number)
                .join(Floor, Floor.id == Room.floor_id)
                .join(Unit, Unit.id == Floor.unit_id)
                .join(Building, Building.id == Unit.building_id)
                .where(Room.id.in_(rooms))
            )
            for room_id, building, unit, number in rows.tuples():
                self.rooms[room_id] = (building, unit, number)

    def name(self, user_id: int | None, reveal: bool) -> str:
        if user_id is None:
            return ""
        name = self.users.get(user_id, ("", ""))[0]
        return name if reveal or not name else mask_name(name)

    def phone(self, user_id: int | None, reveal: bool) -> str:
        phone = self.users.get(user_id, ("", ""))[1] if user_id is not None else ""
        return phone if reveal or not phone else mask_phone(phone)

    def room(self, room_id: int | None, reveal: bool) -> str:
        found = self.rooms.get(room_id) if room_id is not None else None
        return room_label(*found, reveal) if found else ""


class LedgerWriter:
    def __init__(self, session: AsyncSession, catalog: Catalog, options: LedgerOptions) -> None:
        self.session = session
        self.catalog = catalog
        self.options = options
        self.zone = ZoneInfo(options.period.timezone)
        self.now = options.now or utcnow()
        self.people = _People(session)
        self.table = load_matters()
        law = load_law()
        self.basis = {
            m.id: "、".join(a.citation for i in m.legal_basis if (a := law.get(i)) is not None)
            for m in self.table
        }
        self.words = {
            key: catalog.t(key)
            for section in ("kinds", "levels", "statuses", "events")
            for key in catalog.keys()
            if key.startswith(f"{section}.")
        }

    def word(self, section: str, value: str | None) -> str:
        if not value:
            return ""
        return self.words.get(f"{section}.{value}", value)

    # -- sheet 1: cases ---------------------------------------------------------------
    def case_columns(self) -> list[Column]:
        t = self.catalog.t
        return [
            Column(t("ledger.col_number"), 19),
            Column(t("ledger.col_compound"), 12),
            Column(t("ledger.col_kind"), 10),
            Column(t("ledger.col_matter"), 18),
            Column(t("ledger.col_legal_basis"), 40),
            Column(t("ledger.col_place"), 22),
            Column(t("ledger.col_reporter"), 10),
            Column(t("ledger.col_phone"), 14),
            Column(t("ledger.col_reported_at"), 17, DATETIME),
            Column(t("ledger.col_level"), 16),
            Column(t("ledger.col_lead"), 10),
            Column(t("ledger.col_co_handlers"), 20),
            Column(t("ledger.col_status"), 12),
            Column(t("ledger.col_deadline"), 17, DATETIME),
            Column(t("ledger.col_resolved_at"), 17, DATETIME),
            Column(t("ledger.col_hours"), 10, DECIMAL),
            Column(t("ledger.col_overdue"), 8),
            Column(t("ledger.col_escalations"), 8),
            Column(t("ledger.col_satisfaction"), 10),
            Column(t("ledger.col_comment"), 30),
        ]

    async def write_cases(self, workbook: StreamingWorkbook) -> int:
        reveal = self.options.reveal
        compounds = dict(
            (await self.session.execute(select(Compound.id, Compound.name))).tuples().all()
        )
        buildings = dict(
            (await self.session.execute(select(Building.id, Building.name))).tuples().all()
        )
        whole = self.catalog.t("case.whole_compound")
        yes, no = self.catalog.t("ledger.overdue_yes"), self.catalog.t("ledger.overdue_no")
        table = workbook.sheet(self.catalog.t("ledger.sheet_cases"), self.case_columns())
        query = (
            select(
                Case.id,
                Case.number,
                Case.compound_id,
                Case.kind,
                Case.matter_id,
                Case.building_id,
                Case.room_id,
                Case.area,
                Case.reporter_id,
                Case.created_at,
                Case.level,
                Case.lead_id,
                Case.status,
                Case.deadline,
                Case.resolved_at,
                Case.escalations,
                Case.satisfaction,
                Case.comment,
                overdue_condition(self.now).label("overdue"),
            )
            .where(*case_filter(self.options.period, self.options.scope))
            .order_by(Case.id)
            .execution_options(yield_per=CHUNK)
        )
        result = await self.session.stream(query)
        async for chunk in result.partitions():
            co = await self._co_handlers([row.id for row in chunk])
            await self.people.load(
                [u for row in chunk for u in (row.reporter_id, row.lead_id)]
                + [u for users in co.values() for u in users],
                [row.room_id for row in chunk],
            )
            for row in chunk:
                matter = self.table.matters.get(row.matter_id)
                if row.room_id is not None and (room := self.people.room(row.room_id, reveal)):
                    place = room
                else:
                    parts = [buildings.get(row.building_id, whole) if row.building_id else whole]
                    if row.area:
                        parts.append(row.area)
                    place = " · ".join(parts)
                hours = None
                if row.resolved_at is not None:
                    hours = round((row.resolved_at - row.created_at).total_seconds() / 3600, 1)
                rating = f"case.rating_{row.satisfaction}" if row.satisfaction else ""
                table.append(
                    [
                        row.number,
                        compounds.get(row.compound_id, ""),
                        self.word("kinds", row.kind),
                        matter.name if matter else row.matter_id,
                        self.basis.get(row.matter_id, ""),
                        place,
                        self.people.name(row.reporter_id, reveal),
                        self.people.phone(row.reporter_id, reveal),
                        local_naive(row.created_at, self.zone),
                        self.word("levels", row.level),
                        self.people.name(row.lead_id, True),
                        "、".join(self.people.name(u, True) for u in co.get(row.id, [])),
                        self.word("statuses", row.status),
                        local_naive(row.deadline, self.zone),
                        local_naive(row.resolved_at, self.zone),
                        hours,
                        yes if row.overdue else no,
                        row.escalations,
                        self.catalog.t(rating) if rating in self.catalog else "",
                        mask_text(row.comment or "", reveal),
                    ]
                )
        table.close()
        return table.rows

    async def _co_handlers(self, case_ids: list[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        rows = await self.session.execute(
            select(CaseMember.case_id, CaseMember.user_id)
            .where(CaseMember.case_id.in_(case_ids), CaseMember.part == "co")
            .order_by(CaseMember.id)
        )
        for case_id, user_id in rows.tuples():
            found.setdefault(case_id, []).append(user_id)
        return found

    # -- sheet 2: events --------------------------------------------------------------
    def event_columns(self) -> list[Column]:
        t = self.catalog.t
        return [
            Column(t("ledger.col_number"), 19),
            Column(t("ledger.col_event_at"), 17, DATETIME),
            Column(t("ledger.col_event"), 14),
            Column(t("ledger.col_event_level"), 16),
            Column(t("ledger.col_actor"), 10),
            Column(t("ledger.col_event_lead"), 10),
            Column(t("ledger.col_event_text"), 50),
        ]

    async def write_events(self, workbook: StreamingWorkbook) -> int:
        reveal = self.options.reveal
        system = self.catalog.t("case.system")
        table = workbook.sheet(self.catalog.t("ledger.sheet_events"), self.event_columns())
        query = (
            select(
                Case.number,
                Case.reporter_id,
                CaseEvent.at,
                CaseEvent.kind,
                CaseEvent.level,
                CaseEvent.actor_id,
                CaseEvent.text,
                # Only assignments name a lead; decoding every event's JSON costs seconds.
                case((CaseEvent.kind.in_(tuple(LEAD_EVENTS)), CaseEvent.data), else_=None).label(
                    "data"
                ),
            )
            .join(Case, Case.id == CaseEvent.case_id)
            .where(*case_filter(self.options.period, self.options.scope))
            .order_by(CaseEvent.case_id, CaseEvent.id)
            .execution_options(yield_per=CHUNK)
        )
        result = await self.session.stream(query)
        async for chunk in result.partitions():
            await self.people.load(
                [row.actor_id for row in chunk] + [_lead_of(row.kind, row.data) for row in chunk],
                (),
            )
            for row in chunk:
                # As in ``linli cases show`` the reporter is masked and handlers are not;
                # so is any other resident (one who joined the case, the other party).
                if row.actor_id is None:
                    actor = system
                else:
                    shown = reveal or (
                        row.actor_id != row.reporter_id and row.actor_id in self.people.staff
                    )
                    actor = self.people.name(row.actor_id, shown)
                lead = _lead_of(row.kind, row.data)
                table.append(
                    [
                        row.number,
                        local_naive(row.at, self.zone),
                        self.word("events", row.kind),
                        self.word("levels", row.level),
                        actor,
                        self.people.name(lead, True) if lead is not None else "",
                        mask_text(row.text or "", reveal),
                    ]
                )
        table.close()
        return table.rows

    # -- sheets 3 and 4: statistics ---------------------------------------------------
    def month_columns(self) -> list[Column]:
        t = self.catalog.t
        columns = [
            Column(t("ledger.col_month"), 10),
            Column(t("ledger.col_compound"), 10),
            Column(t("stats.col_cases"), 9),
            Column(t("stats.col_open"), 9),
            Column(t("stats.col_resolved"), 9),
            Column(t("stats.col_on_time"), 9),
            Column(t("stats.col_on_time_rate"), 11, PERCENT),
            Column(t("stats.col_overdue"), 9),
            Column(t("stats.col_avg_hours"), 13, DECIMAL),
            Column(t("stats.col_rated"), 9),
            Column(t("stats.col_satisfied"), 9),
            Column(t("stats.col_satisfied_share"), 10, PERCENT),
            Column(t("stats.col_satisfaction_score"), 12, DECIMAL),
            Column(t("stats.col_settled_at_home"), 11),
            Column(t("stats.col_home_level_rate"), 16, PERCENT),
            Column(t("stats.col_escalated_cases"), 9),
            Column(t("stats.col_escalations"), 9),
            Column(t("stats.col_reopened"), 9),
        ]
        columns += [Column(t(f"levels.{level}"), 12) for level in LEVELS]
        columns += [Column(t(f"statuses.{status}"), 10) for status in STATUS_ORDER]
        return columns

    def write_months(self, workbook: StreamingWorkbook, stats: Statistics) -> int:
        table = workbook.sheet(self.catalog.t("ledger.sheet_months"), self.month_columns())
        for row in stats.months:
            table.append(month_row(row.month, row.compound, row.figures))
        table.close()
        return table.rows

    def write_matters(self, workbook: StreamingWorkbook, stats: Statistics) -> int:
        t = self.catalog.t
        columns = [
            Column(t("ledger.col_month"), 10),
            Column(t("ledger.col_compound"), 10),
            Column(t("ledger.col_matter"), 20),
            Column(t("stats.col_cases"), 9),
        ]
        table = workbook.sheet(t("ledger.sheet_matters"), columns)
        for row in stats.months:
            for matter_id, count in sorted(row.figures.by_matter.items()):
                matter = self.table.matters.get(matter_id)
                table.append([row.month, row.compound, matter.name if matter else matter_id, count])
        table.close()
        return table.rows


MONTH_FIELDS = (
    "cases",
    "open",
    "resolved",
    "on_time",
    "on_time_rate",
    "overdue",
    "avg_hours_to_resolve",
    "rated",
    "satisfied",
    "satisfied_share",
    "satisfaction_score",
    "settled_at_home",
    "home_level_rate",
    "escalated_cases",
    "escalations",
    "reopened",
)


def month_row(month: str, compound: str, figures: Figures) -> list[Any]:
    """A statistics row from ``Figures.as_dict`` — the numbers ``linli stats --json`` prints."""
    data = figures.as_dict()
    return [
        month,
        compound,
        *(data[name] for name in MONTH_FIELDS),
        *(data["by_level"].get(level, 0) for level in LEVELS),
        *(data["by_status"].get(status, 0) for status in STATUS_ORDER),
    ]


def _lead_of(kind: str, data: dict[str, Any] | None) -> int | None:
    """The new lead an assignment or a 交办 named, for the events sheet."""
    if not data:
        return None
    key = LEAD_EVENTS.get(kind)
    value = data.get(key) if key else None
    return value if isinstance(value, int) else None


async def export_ledger(
    session: AsyncSession, out: Path, catalog: Catalog, options: LedgerOptions
) -> ExportSummary:
    writer = LedgerWriter(session, catalog, options)
    stats = await compute_statistics(session, options.period, options.scope, now=writer.now)
    with StreamingWorkbook(out) as workbook:
        cases = await writer.write_cases(workbook)
        events = await writer.write_events(workbook)
        writer.write_months(workbook, stats)
        writer.write_matters(workbook, stats)
        write_evaluation_sheet(workbook, stats, catalog, options.weights)
    return ExportSummary(out, cases, events, stats)
