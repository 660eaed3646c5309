"""登记情况: how many households of each building have registered.

During roll-out a secretary or building leader needs to see which buildings lag, so
they can knock on doors; the figure is scoped to what the person answers for.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Reply
from bot.storage.models import Building, Compound, Role
from handlers import directory
from handlers.directory import Coverage


async def show_coverage(event: Incoming, ctx: Context) -> list[Reply]:
    viewer = ctx.viewer
    building_ids: list[int] = []
    scopes: list[str] = []
    for grant in viewer.grants:
        if grant.role not in (Role.SECRETARY, Role.BUILDING_LEADER, Role.ADMIN):
            continue
        query = select(Building.id)
        if grant.building_id is not None:
            query = query.where(Building.id == grant.building_id)
        elif grant.compound_id is not None:
            query = query.where(Building.compound_id == grant.compound_id)
        building_ids += [
            b for b in (await ctx.session.scalars(query)).all() if b not in building_ids
        ]
        if grant.compound_id is not None:
            compound = await ctx.session.get(Compound, grant.compound_id)
            if compound is not None and compound.name not in scopes:
                scopes.append(compound.name)
    if not building_ids:
        return [ctx.reply("coverage.none")]
    rows = await directory.building_coverage(ctx.session, sorted(building_ids))
    lines = [ctx.t("coverage.header", scope="、".join(scopes) or ctx.t("me.scope_all"))]
    lines += [ctx.t("coverage.line", name=row.name, **_figures(row)) for row in rows]
    total = Coverage(
        name="",
        rooms=sum(r.rooms for r in rows),
        rooms_covered=sum(r.rooms_covered for r in rows),
        residents=sum(r.residents for r in rows),
    )
    lines.append(ctx.t("coverage.total", **_figures(total)))
    return [ctx.reply("coverage.view", body="\n".join(lines))]


def _figures(row: Coverage) -> dict[str, object]:
    percent = round(100 * row.rooms_covered / row.rooms, 1) if row.rooms else 0.0
    return {
        "rooms": row.rooms,
        "rooms_covered": row.rooms_covered,
        "residents": row.residents,
        "percent": percent,
    }
