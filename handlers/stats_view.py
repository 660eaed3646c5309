"""本月统计: this month's ledger figures for a secretary (their compound), a building
leader (their building) or an administrator (their compounds, or all), with a chart.

The figures come from ``handlers.statistics`` — the same computation as the exported
ledger and ``linli stats`` — so what a secretary reads in the chat matches the workbook.

The chart is drawn here and kept in the file store under ``CoreConfig.files_dir``, the
directory the channels read photos from: a chart then travels like any photo (a file
reference in the reply), and handlers stay free of the runtime's objects. The store is
content-addressed, so a chart left behind by a rolled-back transaction is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Reply
from bot.storage.files import FileStore
from bot.storage.models import Building, Compound, Role
from handlers.charts import NoChineseFont, summary_chart
from handlers.statistics import Figures, Period, Scope, compute_statistics
from knowledge.matters import load_matters

log = logging.getLogger(__name__)

STATS_ROLES = frozenset({Role.SECRETARY, Role.BUILDING_LEADER, Role.ADMIN})


async def _scope(ctx: Context) -> tuple[Scope, str]:
    """What this person answers for: everything, some compounds, or some buildings.

    Compound-wide duties win over building ones (a secretary who also leads a building
    sees the whole compound)."""
    everything = False
    compounds: list[int] = []
    buildings: list[int] = []
    for grant in ctx.viewer.grants:
        if grant.role not in STATS_ROLES:
            continue
        if grant.compound_id is None:
            everything = True
        elif grant.building_id is None:
            compounds.append(grant.compound_id)
        else:
            buildings.append(grant.building_id)
    if everything:
        return Scope(), ctx.t("stats.scope_all")
    if compounds:
        names = (
            await ctx.session.scalars(
                select(Compound.name).where(Compound.id.in_(compounds)).order_by(Compound.id)
            )
        ).all()
        return Scope(compound_ids=tuple(sorted(set(compounds)))), "、".join(names)
    rows = (
        await ctx.session.execute(
            select(Compound.name, Building.name)
            .join(Compound, Compound.id == Building.compound_id)
            .where(Building.id.in_(buildings))
            .order_by(Building.id)
        )
    ).all()
    name = "、".join(ctx.t("stats.scope_building", compound=c, building=b) for c, b in rows)
    return Scope(building_ids=tuple(sorted(set(buildings)))), name


def _percent(ctx: Context, value: float | None) -> str:
    return ctx.t("stats.none") if value is None else f"{value * 100:.1f}%"


def _number(ctx: Context, value: float | None) -> str:
    return ctx.t("stats.none") if value is None else f"{value:.1f}"


def summary_text(ctx: Context, figures: Figures, scope: str, month: str) -> str:
    matters = load_matters().matters
    top = "、".join(
        ctx.t("stats.top_item", matter=matters[m].name if m in matters else m, count=n)
        for m, n in figures.by_matter.most_common(3)
    )
    hours = figures.avg_hours_to_resolve
    return ctx.t(
        "stats.summary",
        scope=scope,
        month=month,
        cases=figures.cases,
        resolved=figures.resolved,
        open=figures.open,
        on_time_rate=_percent(ctx, figures.on_time_rate),
        avg_hours=(
            ctx.t("stats.hours", hours=f"{hours:.1f}") if hours is not None else ctx.t("stats.none")
        ),
        satisfied_share=_percent(ctx, figures.satisfied_share),
        rated=figures.rated,
        score=_number(ctx, figures.satisfaction_score),
        home_level_rate=_percent(ctx, figures.home_level_rate),
        escalations=figures.escalations,
        reopened=figures.reopened,
        top=top or ctx.t("stats.none"),
    )


async def show_month(event: Incoming, ctx: Context) -> list[Reply]:
    scope, scope_name = await _scope(ctx)
    period = Period.month_of(ctx.now, ctx.config.timezone)
    assert period.first is not None
    month = ctx.t("stats.month", year=period.first.year, month=period.first.month)
    stats = await compute_statistics(ctx.session, period, scope, now=ctx.now)
    text = summary_text(ctx, stats.total, scope_name, month)
    photo = None
    try:
        png = await asyncio.to_thread(
            summary_chart, stats, ctx.catalog, scope=scope_name, month=month
        )
        photo = FileStore(Path(ctx.config.files_dir)).save_image(png)
    except NoChineseFont as error:
        log.warning("monthly statistics sent without a chart: %s", error)
        text += "\n" + ctx.t("stats.no_chart")
    return [Reply(text, photo=photo, key="stats.summary")]
