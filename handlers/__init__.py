"""Conversation flows and domain services. No platform imports here.

``build_router`` is the one place that says which command, button action and flow
exists and who may use it; a newcomer adding a feature registers it here.
"""

from __future__ import annotations

from bot.core.catalog import Catalog
from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.flows import Needs, Router
from bot.core.replies import Reply
from handlers import (
    broadcast_flow,
    case_views,
    consult,
    coverage,
    group,
    handling,
    menu,
    profile,
    quiz,
    registration,
    report,
    stats_view,
)
from handlers.address import parse_address
from handlers.broadcast_targets import SENDER_ROLES
from handlers.case_cards import CASE_ACTION
from handlers.charts import NoChineseFont, chinese_font
from handlers.emergency import emergency_first
from knowledge.answer import answer_question


async def _fallback(event: Incoming, ctx: Context) -> list[Reply]:
    """Free text outside any flow: a legal question, a report, or a guest to register."""
    text = (event.text or "").strip()
    if event.photo and not text:
        if not ctx.viewer.registered:
            return await registration.guest_fallback(event, ctx)
        return await report.start_with_photo(event, ctx)
    if not ctx.viewer.registered and parse_address(text) is not None:
        return await registration.guest_fallback(event, ctx)
    if text and ctx.args != ["unknown_command"]:
        replies = await consult.respond_to_text(event, ctx, text)
        if replies is not None:
            if not ctx.viewer.registered:
                replies.append(await menu.menu_reply(ctx))
            return replies
    if not ctx.viewer.registered:
        return await registration.guest_fallback(event, ctx)
    return await menu.not_understood(event, ctx)


WARM_TEXT = "楼上漏水了怎么办"


def _prepare(event: Incoming) -> None:
    """Look free text up in the knowledge base and the matter table ahead of the
    transaction; handlers then find the results cached (see ``Router.prepare``)."""
    text = (event.text or "").strip()
    if len(text) < 2 or text.startswith("/"):
        return
    answer_question(text)
    report.sounds_like_report(text)


def _warm() -> None:
    answer_question(WARM_TEXT)
    report.sounds_like_report(WARM_TEXT)
    try:  # matplotlib's import and the font search: seconds, not for the first 本月统计
        chinese_font()
    except NoChineseFont:
        pass  # the chat sends the summary without the chart and says why


def build_router(catalog: Catalog) -> Router:
    router = Router(
        fallback=_fallback,
        text_hook=emergency_first,
        group=group.in_group,
        group_actions=group.GROUP_ACTIONS,
        prepare=_prepare,
        warm=_warm,
    )
    router.command("start", registration.start)
    router.command("menu", menu.show_menu)
    router.command("help", menu.show_help)
    router.command("cancel", menu.cancel)
    router.command("me", profile.show_me, needs=Needs.REGISTERED)
    router.command("coverage", coverage.show_coverage, needs=menu.COVERAGE_ROLES)
    router.command("report", report.start_report, needs=Needs.REGISTERED)
    router.command("mycases", case_views.my_cases, needs=Needs.REGISTERED)
    router.command("todo", case_views.my_todo, needs=menu.HANDLER_ROLES)
    router.command("ask", consult.ask_command)
    router.command("broadcast", broadcast_flow.start_notice, needs=SENDER_ROLES)
    router.command("newquiz", broadcast_flow.start_quiz, needs=SENDER_ROLES)
    router.command("unsubscribe", broadcast_flow.unsubscribe, needs=Needs.REGISTERED)
    router.command("subscribe", broadcast_flow.subscribe, needs=Needs.REGISTERED)
    router.command("stats", stats_view.show_month, needs=stats_view.STATS_ROLES)

    router.action("menu", menu.show_menu)
    router.action("help", menu.show_help)
    router.action("register", registration.register_action)
    router.action("me", profile.show_me, needs=Needs.REGISTERED)
    router.action("addr", registration.register_action, needs=Needs.REGISTERED)
    router.action("coverage", coverage.show_coverage, needs=menu.COVERAGE_ROLES)
    router.action("report", report.start_report, needs=Needs.REGISTERED)
    router.action("mycases", case_views.my_cases, needs=Needs.REGISTERED)
    router.action("todo", case_views.my_todo, needs=menu.HANDLER_ROLES)
    router.action(CASE_ACTION, handling.on_case_button, needs=Needs.REGISTERED)
    router.action("faq", consult.show_entry)
    router.action("law", consult.show_law)
    router.action("reportq", consult.report_pending, needs=Needs.REGISTERED)
    router.action("lawyer", consult.to_lawyer, needs=Needs.REGISTERED)
    router.action("broadcast", broadcast_flow.start_notice, needs=SENDER_ROLES)
    router.action("newquiz", broadcast_flow.start_quiz, needs=SENDER_ROLES)
    router.action("bstatus", broadcast_flow.show_status, needs=SENDER_ROLES)
    router.action("bcancel", broadcast_flow.cancel, needs=SENDER_ROLES)
    router.action("quiz", quiz.answer, needs=Needs.REGISTERED)
    router.action("qboard", quiz.show_board, needs=Needs.REGISTERED)
    router.action("stats", stats_view.show_month, needs=stats_view.STATS_ROLES)

    router.flow(registration.FLOW)
    router.flow(report.FLOW)
    router.flow(handling.FLOW)
    router.flow(consult.FLOW)
    router.flow(broadcast_flow.FLOW)

    for command in router.commands:
        key = f"commands.aliases.{command}"
        if key in catalog:
            for word in catalog.list(key):
                router.alias(word, command)
    return router
