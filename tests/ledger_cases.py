"""A small hand-built ledger whose statistics are worked out by hand below.

Demo compound 时代帝景 (SDDJ) plus a second compound 洪雅家园 (HYJY); times are local
(Asia/Shanghai). ``NOW`` is 2026-04-20 12:00; the period is March–April 2026.

=====  ================  =======  ====================================================
case   matter (home)     month    what happened
=====  ================  =======  ====================================================
c1     leak (floor)      03       floor-1 resolved in 24 h, on time, 满意, closed;
                                  resident-2 joined it (附议)
c2     leak (floor)      03       escalated by the clock to leader-b1, resolved in 96 h
                                  within the new deadline (still overdue), 基本满意
c3     lift (building)   04       reported 04-01 07:00 local = 03-31 23:00 UTC; leader-b1
                                  resolved in 5 h, on time, not rated yet
c4     noise (floor)     04       floor-1, in progress, deadline 04-07 passed: overdue
c5     parking (cmpd)    04       不满意 → reopened, escalated to joint, secretary leads
c6     greenery          04       HYJY, new, nobody assigned
c7     leak              05       outside the period
=====  ================  =======  ====================================================

Expected for SDDJ: March 2 cases, 2 resolved, 1 on time, 60.0 h, 1 of 2 satisfied (score
80.0), 1 settled at home; April 3 cases, 1 resolved and on time (5.0 h), 1 overdue, 1
rated (不满意, score 0), 1 settled at home, 1 escalated, 1 reopened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.db import Database
from bot.storage.models import Case, CaseEvent, CaseMember, ChannelIdentity, Compound, User
from handlers.statistics import Period
from handlers.structure import Shape, create_compound

ZONE = ZoneInfo("Asia/Shanghai")
PERIOD = Period(date(2026, 3, 1), date(2026, 4, 30), "Asia/Shanghai")
REPORTER_PHONE = "13812345678"
C1_REPORT = "楼上漏水，我的电话13812345678"


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


NOW = local(4, 20, 12)


async def _user(session: AsyncSession, persona: str) -> int:
    user_id = await session.scalar(
        select(ChannelIdentity.user_id).where(ChannelIdentity.external_id == persona)
    )
    assert user_id is not None, persona
    return int(user_id)


async def build_ledger(db: Database) -> dict[str, int]:
    """The cases above on a demo-seeded database; returns persona and case ids."""
    async with db.transaction() as session:
        ids = {
            p: await _user(session, p)
            for p in ("resident-1", "resident-2", "floor-1", "leader-b1", "secretary")
        }
        ids["property-1"] = await _user(session, "property-1")
        reporter = await session.get(User, ids["resident-1"])
        assert reporter is not None and reporter.room_id is not None
        reporter.phone = REPORTER_PHONE
        sddj = await session.scalar(select(Compound).where(Compound.code == "SDDJ"))
        assert sddj is not None
        hyjy, _ = await create_compound(session, "HYJY", "洪雅家园", Shape(1, 1, 3, [2]))
        room = reporter.room_id
        counter = iter(range(1, 100))

        def case(
            compound: Compound, matter: str, kind: str, at: datetime, **fields: object
        ) -> Case:
            made = Case(
                number=f"{compound.code}-2026-{next(counter):06d}",
                compound_id=compound.id,
                kind=kind,
                matter_id=matter,
                text="楼上漏水，联系电话13812345678",
                room_id=room,
                reporter_id=ids["resident-1"],
                created_at=at,
                updated_at=at,
                **fields,
            )
            session.add(made)
            return made

        c1 = case(
            sddj,
            "leak_from_above",
            "dispute",
            local(3, 2),
            level="floor",
            lead_id=ids["floor-1"],
            status="closed",
            deadline=local(3, 4),
            resolved_at=local(3, 3),
            closed_at=local(3, 3, 12),
            satisfaction="satisfied",
            comment="处理及时，谢谢！",
        )
        c2 = case(
            sddj,
            "leak_from_above",
            "dispute",
            local(3, 10, 9),
            level="building",
            lead_id=ids["leader-b1"],
            status="closed",
            deadline=local(3, 15, 9),
            resolved_at=local(3, 14, 9),
            satisfaction="basic",
            escalations=1,
        )
        c3 = case(
            sddj,
            "lift_breakdown",
            "repair",
            local(4, 1, 7),
            level="building",
            lead_id=ids["leader-b1"],
            status="resolved",
            deadline=local(4, 1, 15),
            resolved_at=local(4, 1, 12),
        )
        c4 = case(
            sddj,
            "noise_daily",
            "dispute",
            local(4, 5),
            level="floor",
            lead_id=ids["floor-1"],
            status="in_progress",
            deadline=local(4, 7),
        )
        c5 = case(
            sddj,
            "parking",
            "dispute",
            local(4, 10),
            level="joint",
            lead_id=ids["secretary"],
            status="reopened",
            deadline=local(5, 1),
            satisfaction="unsatisfied",
            escalations=1,
            reopens=1,
        )
        c6 = case(hyjy, "greenery", "repair", local(4, 12), level="compound", status="new")
        c7 = case(
            sddj,
            "leak_from_above",
            "dispute",
            local(5, 3),
            level="floor",
            lead_id=ids["floor-1"],
            status="assigned",
            deadline=local(5, 5),
        )
        await session.flush()

        def event(c: Case, at: datetime, kind: str, actor: int | None, **more: object) -> None:
            session.add(CaseEvent(case_id=c.id, at=at, kind=kind, actor_id=actor, **more))

        event(c1, local(3, 2), "reported", ids["resident-1"], level="floor", text=C1_REPORT)
        event(c1, local(3, 2), "assigned", None, level="floor", data={"lead": ids["floor-1"]})
        event(c1, local(3, 2, 11), "accepted", ids["floor-1"], level="floor")
        event(c1, local(3, 2, 12), "followed", ids["resident-2"], level="floor")
        event(c1, local(3, 3), "resolved", ids["floor-1"], level="floor", text="已修复")
        event(c1, local(3, 3, 12), "rated", ids["resident-1"], level="floor", text="satisfied")
        event(c1, local(3, 3, 12), "closed", ids["resident-1"], level="floor", text="rated")
        session.add(CaseMember(case_id=c1.id, user_id=ids["property-1"], part="co"))
        event(c2, local(3, 10, 9), "reported", ids["resident-1"], level="floor")
        event(c2, local(3, 12, 9, 1), "escalated", None, level="building", text="sla")
        event(c2, local(3, 14, 9), "resolved", ids["leader-b1"], level="building")
        event(c3, local(4, 1, 7), "reported", ids["resident-1"], level="building")
        event(c3, local(4, 1, 12), "resolved", ids["leader-b1"], level="building")
        event(c4, local(4, 5), "reported", ids["resident-1"], level="floor")
        event(c5, local(4, 10), "reported", ids["resident-1"], level="compound")
        event(c5, local(4, 12), "rated", ids["resident-1"], level="compound", text="unsatisfied")
        event(c5, local(4, 12), "escalated", ids["resident-1"], level="joint", text="unsatisfied")
        event(c6, local(4, 12), "reported", ids["resident-1"], level="compound")
        event(c7, local(5, 3), "reported", ids["resident-1"], level="floor")
        for name, made in (("c1", c1), ("c2", c2), ("c3", c3), ("c4", c4), ("c5", c5)):
            ids[name] = made.id
        ids["c6"], ids["c7"], ids["sddj"], ids["hyjy"] = c6.id, c7.id, sddj.id, hyjy.id
    return ids
