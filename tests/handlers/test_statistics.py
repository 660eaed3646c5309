"""Ledger statistics on a small hand-built ledger (tests/ledger_cases.py), both databases."""

from __future__ import annotations

from datetime import date

import pytest

from bot.demo import seed_demo
from bot.storage.db import Database
from handlers.statistics import (
    Period,
    Scope,
    Statistics,
    UnknownCompound,
    compound_ids,
    compute_statistics,
)
from tests.ledger_cases import NOW, PERIOD, build_ledger


async def _stats(db: Database, period: Period = PERIOD, **scope: tuple[int, ...]) -> Statistics:
    async with db.snapshot() as session:
        return await compute_statistics(session, period, Scope(**scope), now=NOW)


@pytest.fixture
async def ids(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        await seed_demo(session)
    return await build_ledger(db)


def _month(stats: Statistics, month: str, compound: str = "SDDJ") -> dict[str, object]:
    rows = [
        r for r in stats.as_dict()["months"] if (r["month"], r["compound"]) == (month, compound)
    ]
    assert len(rows) == 1, (month, compound)
    return rows[0]


async def test_monthly_counts_rates_and_hours_follow_the_definitions(
    db: Database, ids: dict[str, int]
) -> None:
    stats = await _stats(db, compound_ids=(ids["sddj"],))
    march = _month(stats, "2026-03")
    assert march["cases"] == 2 and march["resolved"] == 2 and march["open"] == 0
    assert march["on_time"] == 1 and march["on_time_rate"] == 0.5  # c2 was escalated by the clock
    assert march["overdue"] == 1
    assert march["avg_hours_to_resolve"] == 60.0  # (24 + 96) / 2
    assert march["by_status"] == {"closed": 2}
    assert march["by_level"] == {"floor": 1, "building": 1}
    assert march["by_matter"] == {"leak_from_above": 2}
    assert march["escalated_cases"] == 1 and march["escalations"] == 1

    april = _month(stats, "2026-04")
    # c3 was reported 04-01 07:00 local, still March in UTC: months are local.
    assert april["cases"] == 3 and april["open"] == 2
    assert april["resolved"] == 1 and april["on_time"] == 1 and april["on_time_rate"] == 1.0
    assert april["overdue"] == 1  # c4: open past its deadline at NOW
    assert april["avg_hours_to_resolve"] == 5.0
    assert april["reopened"] == 1
    assert april["by_status"] == {"resolved": 1, "in_progress": 1, "reopened": 1}


async def test_settled_at_home_level_counts_only_unescalated_cases_at_the_matter_home_level(
    db: Database, ids: dict[str, int]
) -> None:
    stats = await _stats(db, compound_ids=(ids["sddj"],))
    march, april = _month(stats, "2026-03"), _month(stats, "2026-04")
    assert march["settled_at_home"] == 1 and march["home_level_rate"] == 0.5  # c1, not c2
    assert april["settled_at_home"] == 1 and april["home_level_rate"] == 1.0  # c3
    total = stats.as_dict()["total"]
    assert total["settled_at_home"] == 2 and total["home_level_rate"] == 0.6667


async def test_satisfaction_is_the_share_of_satisfied_and_a_mean_score(
    db: Database, ids: dict[str, int]
) -> None:
    stats = await _stats(db, compound_ids=(ids["sddj"],))
    march, april = _month(stats, "2026-03"), _month(stats, "2026-04")
    assert (march["rated"], march["satisfied"], march["satisfied_share"]) == (2, 1, 0.5)
    assert march["satisfaction_score"] == 80.0  # 满意 100, 基本满意 60
    assert (april["rated"], april["satisfied"], april["satisfied_share"]) == (1, 0, 0.0)
    assert april["satisfaction_score"] == 0.0
    total = stats.as_dict()["total"]
    assert total["satisfied_share"] == 0.3333 and total["satisfaction_score"] == 53.3


async def test_per_handler_figures_count_the_cases_each_person_leads(
    db: Database, ids: dict[str, int]
) -> None:
    stats = await _stats(db, compound_ids=(ids["sddj"],))
    people = {h["name"]: h for h in stats.as_dict()["handlers"]}
    assert set(people) == {"王志强", "陈国平", "刘红梅"}
    floor = people["王志强"]
    assert (floor["cases_led"], floor["resolved"], floor["on_time"]) == (2, 1, 1)
    assert floor["on_time_rate"] == 1.0 and floor["overdue"] == 1
    assert floor["satisfied_share"] == 1.0 and floor["satisfaction_score"] == 100.0
    assert floor["roles"] == ["floor_member"] and floor["compound"] == "SDDJ"
    leader = people["陈国平"]
    assert (leader["cases_led"], leader["resolved"], leader["on_time_rate"]) == (2, 2, 0.5)
    assert leader["satisfaction_score"] == 60.0
    secretary = people["刘红梅"]
    assert secretary["cases_led"] == 1 and secretary["on_time_rate"] is None
    assert secretary["reopened"] == 1


async def test_period_and_compound_choose_the_cases(db: Database, ids: dict[str, int]) -> None:
    everything = await _stats(db, Period(timezone="Asia/Shanghai"))
    assert everything.total.cases == 7
    assert [m["month"] for m in everything.as_dict()["months"] if m["compound"] == "SDDJ"] == [
        "2026-03",
        "2026-04",
        "2026-05",
    ]
    both = await _stats(db)
    assert both.compounds == ["HYJY", "SDDJ"] and both.total.cases == 6
    assert _month(both, "2026-04", "HYJY")["cases"] == 1
    assert _month(both, "2026-03", "HYJY")["cases"] == 0  # every month of the period is listed
    april = await _stats(db, Period(date(2026, 4, 1), date(2026, 4, 30), "Asia/Shanghai"))
    assert april.total.cases == 4
    async with db.snapshot() as session:
        assert await compound_ids(session, ["HYJY"]) == (ids["hyjy"],)
        with pytest.raises(UnknownCompound):
            await compound_ids(session, ["NOPE"])


async def test_an_empty_month_reports_zeros_and_no_rates(db: Database, ids: dict[str, int]) -> None:
    june = Period(date(2026, 6, 1), date(2026, 6, 30), "Asia/Shanghai")
    stats = await _stats(db, june, compound_ids=(ids["sddj"],))
    row = _month(stats, "2026-06")
    assert row["cases"] == 0 and row["on_time_rate"] is None and row["satisfaction_score"] is None
    assert stats.handlers == []


def test_month_of_a_moment_is_its_local_calendar_month() -> None:
    period = Period.month_of(NOW, "Asia/Shanghai")
    assert (period.first, period.last) == (date(2026, 4, 1), date(2026, 4, 30))
    assert Period.month_of(NOW.replace(month=12), "UTC").last == date(2026, 12, 31)
