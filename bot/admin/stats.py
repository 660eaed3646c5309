"""The dashboard's statistics page: the figures of ``handlers.statistics`` for the
operator's compounds — side by side, one column per compound, for a county admin — and
the charts of ``handlers.charts``, computed from the same numbers as the ledger export
and ``linli stats``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.admin.auth import Operator
from bot.admin.ledger import parse_day
from bot.core.catalog import Catalog
from bot.storage.db import Database
from bot.storage.models import utcnow
from handlers import charts
from handlers.statistics import (
    Figures,
    Period,
    Scope,
    Statistics,
    UnknownCompound,
    compound_ids,
    compute_statistics,
)

# (label key, Figures attribute, format): the rows of the side-by-side table
ROWS: tuple[tuple[str, str, str], ...] = (
    ("stats.col_cases", "cases", "int"),
    ("stats.col_open", "open", "int"),
    ("stats.col_resolved", "resolved", "int"),
    ("stats.col_on_time_rate", "on_time_rate", "rate"),
    ("stats.col_avg_hours", "avg_hours_to_resolve", "hours"),
    ("stats.col_home_level_rate", "home_level_rate", "rate"),
    ("stats.col_satisfied_share", "satisfied_share", "rate"),
    ("stats.col_escalations", "escalations", "int"),
)
CHARTS: dict[str, Callable[[Statistics, Catalog], bytes]] = {
    "cases_by_status": charts.status_chart,
    "top_matters": charts.matters_chart,
    "on_time_rate": lambda s, c: charts.rate_chart(s, c, "on_time_rate", "stats.chart_on_time"),
    "home_level_rate": lambda s, c: charts.rate_chart(
        s, c, "home_level_rate", "stats.chart_home_level"
    ),
}


def _format(value: float | int | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.0f}%"
    if kind == "hours":
        return f"{value:.1f}"
    return str(value)


class DashboardStats:
    def __init__(self, db: Database, catalog: Catalog, timezone: str) -> None:
        self.db = db
        self.catalog = catalog
        self.timezone = timezone

    async def _compute(self, operator: Operator, params: dict[str, str]) -> Statistics:
        period = Period(
            parse_day(params.get("from", "")), parse_day(params.get("to", "")), self.timezone
        )
        allowed = operator.compound_ids
        async with self.db.transaction() as session:
            wanted: tuple[int, ...] = ()
            code = params.get("compound", "").strip().upper()
            if code:
                try:
                    wanted = await compound_ids(session, [code])
                except UnknownCompound:
                    wanted = (-1,)
            if allowed is not None:
                wanted = tuple(i for i in wanted if i in allowed) if wanted else tuple(allowed)
                wanted = wanted or (-1,)
            return await compute_statistics(session, period, Scope(wanted), now=utcnow())

    async def page(self, operator: Operator, params: dict[str, str]) -> dict[str, Any]:
        stats = await self._compute(operator, params)
        columns: list[tuple[str, Figures]] = []
        by_compound: dict[str, Figures] = {}
        for row in stats.months:
            by_compound.setdefault(row.compound, Figures()).add(row.figures)
        columns = sorted(by_compound.items())
        if len(columns) != 1:
            columns.append((self.catalog.t("stats.scope_all"), stats.total))
        table = [
            (self.catalog.t(key), [_format(getattr(f, attr), kind) for _, f in columns])
            for key, attr, kind in ROWS
        ]
        handlers = [
            {
                "name": h.name,
                "compound": h.compound,
                "led": h.figures.cases,
                "on_time": _format(h.figures.on_time_rate, "rate"),
                "satisfied": _format(h.figures.satisfied_share, "rate"),
            }
            for h in stats.handlers
        ]
        return {
            "columns": [name for name, _ in columns],
            "table": table,
            "handlers": handlers,
            "charts": list(CHARTS) if stats.months else [],
        }

    async def chart(self, operator: Operator, name: str, params: dict[str, str]) -> bytes | None:
        draw = CHARTS.get(name)
        if draw is None:
            return None
        stats = await self._compute(operator, params)
        try:  # matplotlib is CPU work: off the event loop
            return await asyncio.to_thread(draw, stats, self.catalog)
        except charts.NoChineseFont:
            return None
