"""How a person is described back to them and to others: address, relation, duties.

``/me`` lives here, and the menu and registration reuse the same wording so that an
address or a duty reads the same everywhere in the chat.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.catalog import Catalog
from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Reply
from bot.storage.models import ChannelIdentity
from handlers import directory
from handlers.directory import Address


def new_identity(event: Incoming, ctx: Context, user_id: int) -> ChannelIdentity:
    """The sender's account on this channel, tied to ``user_id`` (added to the session)."""
    identity = ChannelIdentity(
        channel=event.channel,
        external_id=event.user_id,
        chat_id=event.chat_id,
        user_id=user_id,
        display_name=event.display_name[:100],
        last_seen_at=ctx.now,
    )
    ctx.session.add(identity)
    return identity


def short_address(catalog: Catalog, address: Address) -> str:
    """``1栋1单元1502``: the flat without the compound, as cards and summaries show it."""
    return catalog.t(
        "address.short", building=address.building, unit=address.unit, room=address.room
    )


async def room_text(session: AsyncSession, catalog: Catalog, room_id: int | None) -> str:
    """The short address of a room, or "" when there is none."""
    address = await directory.room_address(session, room_id) if room_id is not None else None
    return short_address(catalog, address) if address is not None else ""


def format_address(ctx: Context, address: Address) -> str:
    return ctx.t(
        "address.full",
        compound=address.compound,
        building=address.building,
        unit=address.unit,
        room=address.room,
    )


async def viewer_address(ctx: Context) -> Address | None:
    user = ctx.viewer.user
    if user is None or user.room_id is None:
        return None
    return await directory.room_address(ctx.session, user.room_id)


async def describe_duties(ctx: Context) -> str:
    """All roles with their scopes in one line, e.g. ``楼栋长（时代帝景1栋）``."""
    viewer = ctx.viewer
    if viewer.user is None:
        return ""
    parts: list[str] = []
    for grant, compound, building in await directory.grant_scopes(ctx.session, viewer.grants):
        role = ctx.t(f"roles.{grant.role}")
        if building is not None:
            scope = ctx.t("me.scope_building", compound=compound, building=building)
        elif compound is not None:
            scope = ctx.t("me.scope_compound", compound=compound)
        else:
            scope = ctx.t("me.scope_all")
        parts.append(f"{role}（{scope}）")
    zones = await directory.zones_of(ctx.session, viewer.user.id)
    if zones:
        zone_text = "、".join(
            ctx.t("me.zone", building=b, floor_from=z.floor_from, floor_to=z.floor_to)
            for b, z in zones
        )
        role = ctx.t("roles.floor_member")
        merged = [p for p in parts if not p.startswith(role)]
        parts = [*merged, f"{role}（{zone_text}）"]
    return "、".join(parts)


async def show_me(event: Incoming, ctx: Context) -> list[Reply]:
    lines: list[str] = []
    address = await viewer_address(ctx)
    user = ctx.viewer.user
    if address is not None and user is not None:
        relation = ctx.t(f"relations.{user.relation}") if user.relation else "—"
        lines.append(ctx.t("me.summary", address=format_address(ctx, address), relation=relation))
    else:
        lines.append(ctx.t("me.no_address"))
    duties = await describe_duties(ctx)
    if duties:
        lines.append(ctx.t("me.duties", duties=duties))
    buttons = [
        [ctx.button(ctx.t("menu.change_address"), "addr")],
        [ctx.button(ctx.t("menu.help"), "help"), ctx.button(ctx.t("menu.title_short"), "menu")],
    ]
    return [ctx.reply("me.view", buttons=buttons, body="\n".join(lines))]
