"""The bot in a building's group chat (楼栋群).

It answers legal questions for everyone to read — when mentioned, or with ``/ask`` —
and lets a secretary post notices. It never collects a report or anything personal in
the group: for that it offers a button that opens the user's private chat with the bot
(a deep link, ``/start report``). Other chatter never reaches the core (the adapter
drops group messages not addressed to the bot), so the bot stays silent.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.replies import Button, Reply
from bot.storage.models import Role
from handlers import consult, report
from knowledge.answer import answer_question

# Buttons anyone in the group may press: they only show more of a public answer.
GROUP_ACTIONS = frozenset({"law", "faq"})
NOTICE_ROLES = (Role.SECRETARY, Role.ADMIN)
MAX_NOTICE = 1500


def private_button(ctx: Context, key: str, start: str) -> Button:
    return Button(ctx.t(key), start=start)


def private_only(ctx: Context) -> Reply:
    return ctx.reply(
        "group.private_only",
        buttons=[[private_button(ctx, "group.btn_private", "menu")]],
    )


async def in_group(event: Incoming, ctx: Context) -> list[Reply]:
    if event.button is not None or event.photo is not None:
        return [private_only(ctx)]
    command = event.command
    if command is not None:
        match command.name:
            case "ask":
                return [await answer_in_group(ctx, command.args)]
            case "notice":
                return [post_notice(ctx, command.args)]
            case "start" | "help" | "menu":
                return [intro(ctx)]
            case _:
                return [private_only(ctx)]
    return [await answer_in_group(ctx, (event.text or "").strip())]


def intro(ctx: Context) -> Reply:
    return ctx.reply(
        "group.intro",
        buttons=[[private_button(ctx, "group.btn_private", "menu")]],
    )


async def answer_in_group(ctx: Context, text: str) -> Reply:
    if len(text) < 2:
        return intro(ctx)
    result = answer_question(text)
    if result.fallback and result.score < consult.UNRELATED:
        return intro(ctx)
    report_like = report.sounds_like_report(text)
    private: list[Button] = []
    if report_like:
        private.append(private_button(ctx, "group.btn_report", "report"))
    private.append(private_button(ctx, "group.btn_lawyer", "lawyer"))
    if result.fallback:
        return consult.not_sure_reply(ctx, result, extra=[private])
    return consult.answer_reply(ctx, result, extra=[private])


def post_notice(ctx: Context, text: str) -> Reply:
    if not ctx.viewer.has_role(*NOTICE_ROLES):
        return ctx.reply("group.notice_denied")
    text = text.strip()
    if not text:
        return ctx.reply("group.notice_usage")
    name = ctx.viewer.user.name if ctx.viewer.user else ""
    return ctx.reply("group.notice", text=text[:MAX_NOTICE], name=name)
