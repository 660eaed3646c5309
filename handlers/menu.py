"""The main menu, help, cancel and what to say when nothing else understood.

The menu is built from what *this* user may do: a guest sees registration, a resident
their address and resident functions, a building leader or secretary their duties.
Later features add their entries here, next to the permission that guards them.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Button, Reply
from bot.storage.models import Role
from handlers.broadcast_targets import SENDER_ROLES
from handlers.profile import describe_duties, format_address, viewer_address
from handlers.stats_view import STATS_ROLES

COVERAGE_ROLES = frozenset({Role.SECRETARY, Role.BUILDING_LEADER, Role.ADMIN})
HANDLER_ROLES = frozenset(Role)


async def menu_reply(ctx: Context, lead: str | None = None) -> Reply:
    """The menu as one reply; ``lead`` is text to put above it (a result, an apology)."""
    viewer = ctx.viewer
    rows: list[list[Button]] = []
    if not viewer.registered:
        title = ctx.t("menu.title_guest")
        rows.append([ctx.button(ctx.t("menu.register"), "register")])
        rows.append([ctx.button(ctx.t("menu.help"), "help")])
    else:
        address = await viewer_address(ctx)
        if address is not None and not viewer.is_handler:
            title = ctx.t("menu.title_resident", address=format_address(ctx, address))
        else:
            title = ctx.t("menu.title_staff", duties=await describe_duties(ctx))
        rows.append(
            [
                ctx.button(ctx.t("menu.report"), "report"),
                ctx.button(ctx.t("menu.my_cases"), "mycases"),
            ]
        )
        if viewer.is_handler:
            rows.append([ctx.button(ctx.t("menu.todo"), "todo")])
        rows.append(
            [ctx.button(ctx.t("menu.me"), "me"), ctx.button(ctx.t("menu.change_address"), "addr")]
        )
        if viewer.has_role(*COVERAGE_ROLES):
            rows.append([ctx.button(ctx.t("menu.coverage"), "coverage")])
        if viewer.has_role(*STATS_ROLES):
            rows.append([ctx.button(ctx.t("menu.stats"), "stats")])
        if viewer.has_role(*SENDER_ROLES):
            rows.append(
                [
                    ctx.button(ctx.t("menu.broadcast"), "broadcast"),
                    ctx.button(ctx.t("menu.newquiz"), "newquiz"),
                ]
            )
        rows.append([ctx.button(ctx.t("menu.help"), "help")])
    body = f"{lead}\n\n{title}" if lead else title
    return ctx.reply("menu.view", buttons=rows, body=body)


async def show_menu(event: Incoming, ctx: Context) -> list[Reply]:
    return [await menu_reply(ctx)]


async def show_help(event: Incoming, ctx: Context) -> list[Reply]:
    lines = [ctx.t("help.header")]
    for name, route in ctx.router.commands.items():
        if route.allows(ctx.viewer) and f"commands.descriptions.{name}" in ctx.catalog:
            description = ctx.t(f"commands.descriptions.{name}")
            lines.append(ctx.t("help.line", command=name, description=description))
    lines.append(ctx.t("help.footer"))
    return [ctx.reply("help.view", body="\n".join(lines))]


async def cancel(event: Incoming, ctx: Context) -> list[Reply]:
    if not ctx.state.active:
        return [await menu_reply(ctx, ctx.t("cancel.nothing"))]
    ctx.finish()
    return [await menu_reply(ctx, ctx.t("cancel.done"))]


async def not_understood(event: Incoming, ctx: Context) -> list[Reply]:
    """Fallback for registered users; guests are sent to registration instead."""
    if ctx.args == ["unknown_command"] and event.command is not None:
        lead = ctx.t("menu.unknown_command", command=event.command.name)
    else:
        lead = ctx.t("menu.unknown")
    return [await menu_reply(ctx, lead)]
