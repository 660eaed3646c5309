"""Composing a broadcast in the chat (secretaries and admins), its progress card, and
residents' ``/unsubscribe`` / ``/subscribe``.

    /broadcast → text (a photo or a file may come with it) → target → time → preview → confirm
    /newquiz   →                                   target → time → preview → confirm

Targets offered are the sender's own compound, its buildings and its handler roles
(a county admin gets every compound instead); the choice buttons carry an index into
the list kept in the conversation state, never the spec itself. Nothing is stored as
a broadcast until the sender confirms the preview, which shows how many people it
will reach right now.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.context import Context
from bot.core.events import Incoming
from bot.core.flows import Flow
from bot.core.replies import Reply
from bot.storage.files import StoredDocument
from bot.storage.models import Broadcast, BroadcastKind, Building, Compound, Role
from handlers import quiz
from handlers.broadcast_targets import (
    TargetError,
    may_broadcast,
    parse_targets,
    resolve_recipients,
    sender_compound,
)
from handlers.broadcasts import BroadcastService, describe_targets
from handlers.case_cards import format_local

FLOW_NAME = "broadcast"
MAX_NOTICE = 1500
ROLE_TARGETS = (Role.BUILDING_LEADER, Role.FLOOR_MEMBER)
EVENING, MORNING = 20, 9  # the offered send times, local hours


class Step(StrEnum):
    TEXT = "text"
    TARGET = "target"
    WHEN = "when"
    CONFIRM = "confirm"


def service(ctx: Context) -> BroadcastService:
    return BroadcastService(ctx.session, ctx.outbox, ctx.catalog, ctx.now)


async def start_notice(event: Incoming, ctx: Context) -> list[Reply]:
    ctx.start(FLOW_NAME, Step.TEXT, {"kind": BroadcastKind.NOTICE.value})
    return [ctx.reply("broadcast.ask_text", limit=MAX_NOTICE)]


async def start_quiz(event: Incoming, ctx: Context) -> list[Reply]:
    ctx.start(FLOW_NAME, Step.TARGET, {"kind": BroadcastKind.QUIZ.value})
    return [await _ask_target(ctx)]


async def on_text(event: Incoming, ctx: Context) -> list[Reply]:
    if event.photo:
        ctx.state.data["photo"] = event.photo
        ctx.state.changed = True
    if event.document:
        ctx.state.data["document"] = {"ref": event.document.ref, "name": event.document.name}
        ctx.state.changed = True
    text = (event.text or "").strip()
    if not text:
        if event.document:
            return [
                ctx.reply("broadcast.document_kept", name=event.document.name, limit=MAX_NOTICE)
            ]
        return [
            ctx.reply(
                "broadcast.photo_kept" if event.photo else "broadcast.ask_text", limit=MAX_NOTICE
            )
        ]
    if len(text) > MAX_NOTICE:
        return [ctx.reply("broadcast.too_long", limit=MAX_NOTICE, length=len(text))]
    ctx.state.data["text"] = text
    ctx.goto(Step.TARGET)
    return [await _ask_target(ctx)]


async def _target_options(ctx: Context) -> list[tuple[str, str]]:
    """(label, spec) pairs the sender may choose from."""
    compound_id = sender_compound(ctx.viewer)
    if compound_id is None:
        compounds = (await ctx.session.scalars(select(Compound).order_by(Compound.code))).all()
        options = [(ctx.t("broadcast.target_all"), "all")]
        options += [(c.name, f"compound:{c.code}") for c in compounds]
        return options
    compound = await ctx.session.get(Compound, compound_id)
    assert compound is not None
    buildings = (
        await ctx.session.scalars(
            select(Building).where(Building.compound_id == compound_id).order_by(Building.number)
        )
    ).all()
    options = [(ctx.t("broadcast.whole_compound", name=compound.name), f"compound:{compound.code}")]
    options += [(b.name, f"building:{compound.code}-{b.number}") for b in buildings]
    options += [(ctx.t(f"roles.{r.value}"), f"role:{r.value}") for r in ROLE_TARGETS]
    return options


async def _ask_target(ctx: Context) -> Reply:
    options = await _target_options(ctx)
    ctx.state.data["options"] = [spec for _, spec in options]
    ctx.state.changed = True
    buttons = [ctx.choice(label, i) for i, (label, _) in enumerate(options)]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return ctx.reply("broadcast.ask_target", buttons=rows)


async def on_target(event: Incoming, ctx: Context) -> list[Reply]:
    options: list[str] = ctx.state.data.get("options", [])
    if not ctx.args or not ctx.args[0].isdigit() or int(ctx.args[0]) >= len(options):
        return [await _ask_target(ctx)]
    ctx.state.data["targets"] = [options[int(ctx.args[0])]]
    ctx.goto(Step.WHEN)
    return [_ask_when(ctx)]


def _ask_when(ctx: Context) -> Reply:
    rows = [
        [ctx.choice(ctx.t("broadcast.when_now"), "now")],
        [
            ctx.choice(ctx.t("broadcast.when_evening", hour=EVENING), "evening"),
            ctx.choice(ctx.t("broadcast.when_morning", hour=MORNING), "morning"),
        ],
    ]
    return ctx.reply("broadcast.ask_when", buttons=rows)


def parse_local_time(text: str, now: datetime, timezone: str) -> datetime | None:
    """``2026-11-26 09:00``, ``11-26 9:00`` or ``20:30`` (today, or tomorrow if that has
    passed) in the compound's time zone → aware UTC; None if it is not a time."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    cleaned = text.strip().replace("：", ":").replace("/", "-").replace("  ", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%m-%d %H:%M", "%H:%M"):
        try:
            parsed = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        if fmt == "%H:%M":
            moment = local_now.replace(
                hour=parsed.hour, minute=parsed.minute, second=0, microsecond=0
            )
            if moment <= local_now:
                moment += timedelta(days=1)
        elif fmt == "%m-%d %H:%M":
            moment = parsed.replace(year=local_now.year, tzinfo=zone)
        else:
            moment = parsed.replace(tzinfo=zone)
        return moment.astimezone(now.tzinfo)
    return None


def _offered_time(choice: str, now: datetime, timezone: str) -> datetime:
    hour = EVENING if choice == "evening" else MORNING
    local = now.astimezone(ZoneInfo(timezone)).replace(hour=hour, minute=0, second=0, microsecond=0)
    if local <= now:
        local += timedelta(days=1)
    return local.astimezone(now.tzinfo)


async def on_when(event: Incoming, ctx: Context) -> list[Reply]:
    at: datetime | None
    if ctx.args:
        choice = ctx.args[0]
        at = None if choice == "now" else _offered_time(choice, ctx.now, ctx.config.timezone)
    else:
        at = parse_local_time(event.text or "", ctx.now, ctx.config.timezone)
        if at is None or at <= ctx.now:
            return [ctx.reply("broadcast.bad_time"), _ask_when(ctx)]
    ctx.state.data["at"] = at.isoformat() if at else None
    ctx.goto(Step.CONFIRM)
    return [await _preview(ctx)]


async def _preview(ctx: Context) -> Reply:
    data = ctx.state.data
    compound_id = sender_compound(ctx.viewer)
    recipients = await resolve_recipients(ctx.session, parse_targets(data["targets"]), compound_id)
    at = data.get("at")
    when = (
        ctx.t("broadcast.when_now")
        if at is None
        else format_local(datetime.fromisoformat(at), ctx.config.timezone)
    )
    kind = data["kind"]
    body = (
        data.get("text", "")
        if kind == BroadcastKind.NOTICE
        else ctx.t("quiz.preview", total=quiz.QUESTIONS_PER_QUIZ)
    )
    rows = [
        [ctx.choice(ctx.t("broadcast.btn_confirm"), "yes")],
        [ctx.choice(ctx.t("broadcast.btn_abandon"), "no")],
    ]
    return ctx.reply(
        "broadcast.preview",
        buttons=rows,
        kind=ctx.t(f"broadcast.kinds.{kind}"),
        body=body,
        photo_note=ctx.t("broadcast.photo_note") if data.get("photo") else "",
        document_note=(
            ctx.t("broadcast.document_note", name=data["document"]["name"])
            if data.get("document")
            else ""
        ),
        targets=describe_targets(ctx.catalog, data["targets"]),
        count=len(recipients),
        when=when,
    )


async def on_confirm(event: Incoming, ctx: Context) -> list[Reply]:
    if not ctx.args:
        return [await _preview(ctx)]
    if ctx.args[0] != "yes":
        ctx.finish()
        return [ctx.reply("broadcast.abandoned")]
    data = dict(ctx.state.data)
    ctx.finish()
    kind = BroadcastKind(data["kind"])
    user = ctx.viewer.user
    assert user is not None
    at = datetime.fromisoformat(data["at"]) if data.get("at") else None
    questions = quiz.pick_questions(f"{user.id}:{ctx.now.isoformat()}") if kind == "quiz" else []
    svc = service(ctx)
    broadcast = await svc.compose(
        sender_id=user.id,
        compound_id=sender_compound(ctx.viewer),
        targets=data["targets"],
        text=data.get("text", ""),
        photo=data.get("photo"),
        document=StoredDocument(**data["document"]) if data.get("document") else None,
        at=at,
        kind=kind,
        questions=questions,
        notify_sender=False,
    )
    key = "broadcast.started" if at is None else "broadcast.scheduled_note"
    return [svc.status_reply(broadcast, await svc.progress(broadcast), key)]


async def _own_broadcast(ctx: Context) -> Broadcast | None:
    """The broadcast a status or cancel button names, if the viewer may manage it."""
    if not ctx.args or not ctx.args[0].isdigit():
        return None
    broadcast = await ctx.session.get(Broadcast, int(ctx.args[0]))
    if broadcast is None or not may_broadcast(ctx.viewer):
        return None
    user = ctx.viewer.user
    if ctx.viewer.has_role(Role.ADMIN) or (user is not None and broadcast.created_by == user.id):
        return broadcast
    try:
        compound_id = sender_compound(ctx.viewer)
    except TargetError:
        return None
    return broadcast if compound_id is not None and broadcast.compound_id == compound_id else None


async def show_status(event: Incoming, ctx: Context) -> list[Reply]:
    broadcast = await _own_broadcast(ctx)
    if broadcast is None:
        return [ctx.reply("errors.stale_button")]
    svc = service(ctx)
    return [svc.status_reply(broadcast, await svc.progress(broadcast), "broadcast.status")]


async def cancel(event: Incoming, ctx: Context) -> list[Reply]:
    broadcast = await _own_broadcast(ctx)
    if broadcast is None:
        return [ctx.reply("errors.stale_button")]
    svc = service(ctx)
    user = ctx.viewer.user
    if not await svc.cancel(broadcast, user.id if user else None):
        return [ctx.reply("broadcast.cannot_cancel")]
    return [svc.status_reply(broadcast, await svc.progress(broadcast), "broadcast.cancelled")]


async def unsubscribe(event: Incoming, ctx: Context) -> list[Reply]:
    user = ctx.viewer.user
    assert user is not None
    if user.notices_off_at is None:
        user.notices_off_at = ctx.now
    return [ctx.reply("broadcast.unsubscribed")]


async def subscribe(event: Incoming, ctx: Context) -> list[Reply]:
    user = ctx.viewer.user
    assert user is not None
    user.notices_off_at = None
    return [ctx.reply("broadcast.subscribed")]


FLOW = Flow(
    FLOW_NAME,
    steps={
        Step.TEXT: on_text,
        Step.TARGET: on_target,
        Step.WHEN: on_when,
        Step.CONFIRM: on_confirm,
    },
    document_steps=frozenset({Step.TEXT}),
)
