"""A role × action matrix: every forbidden press is denied and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.core.buttons import pack
from bot.core.context import CoreConfig
from bot.outbox.enqueue import OutboxWriter
from bot.storage.models import (
    Case,
    CaseEvent,
    CaseMember,
    ChannelIdentity,
    ConversationState,
    User,
    utcnow,
)
from handlers.case_service import CaseDraft, CaseService
from handlers.directory import find_room, units
from tests.factories import make_incoming

ACTIONS = ["view", "acc", "prog", "co", "esc", "res", "rea", "info", "rate"]
DENIALS = {"errors.denied", "handling.not_now", "errors.need_registration"}
# Who may do what on an open floor-level leak reported by resident-1 and led by floor-1.
ALLOWED = {
    "resident-1": {"view", "info"},  # reporter; rating only once resolved
    "resident-2": set(),  # the other party
    "floor-1": {"view", "acc", "prog", "co", "esc", "res"},  # lead
    "leader-b1": {"view", "prog", "co", "esc", "res"},  # above a floor-level case
    "secretary": {"view", "prog", "co", "esc", "res", "rea"},
    "police-1": set(),
    "lawyer-1": set(),
    "stranger": set(),  # not registered at all
}


async def _open_leak(app: App) -> Case:
    async with app.db.transaction() as session:
        reporter = await session.scalar(
            select(User).join(ChannelIdentity).where(ChannelIdentity.external_id == "resident-1")
        )
        assert reporter is not None and reporter.room_id is not None
        home = (await units(session, 1))[0]
        upstairs = await find_room(session, home.id, "1602")
        mine = await find_room(session, home.id, "1502")
        assert upstairs is not None and mine is not None
        service = CaseService(
            session,
            OutboxWriter(session, app.dispatcher.signer),
            app.catalog,
            utcnow(),
            CoreConfig(),
        )
        draft = CaseDraft(
            compound_id=mine.compound_id,
            matter_id="leak_from_above",
            text="楼上漏水",
            building_id=mine.building_id,
            floor=mine.floor,
            room_id=mine.room_id,
            counterparty_room_id=upstairs.room_id,
        )
        return await service.open(draft, reporter)


async def _snapshot(app: App, case_id: int) -> tuple[object, ...]:
    async with app.db.transaction() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        events = await session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)
        )
        members = await session.scalar(
            select(func.count()).select_from(CaseMember).where(CaseMember.case_id == case_id)
        )
        flows = (await session.scalars(select(ConversationState.flow))).all()
        return (
            case.status,
            case.level,
            case.lead_id,
            case.deadline,
            events,
            members,
            sorted(f for f in flows if f),
        )


async def _press(app: App, actor: str, verb: str, case_id: int, *extra: object) -> str | None:
    data = app.dispatcher.signer.sign(pack("cs", verb, case_id, *extra), f"web:{actor}")
    outcome = await app.handle(make_incoming(actor, button=data))
    return outcome.replies[0].payload.get("key") if outcome.replies else None


@pytest.mark.parametrize("actor", sorted(ALLOWED))
async def test_every_forbidden_case_action_is_denied_and_changes_nothing(
    app: App, actor: str
) -> None:
    case = await _open_leak(app)
    async with app.db.transaction() as session:
        co_users = (
            await session.scalars(select(CaseMember.user_id).where(CaseMember.case_id == case.id))
        ).all()
    before = await _snapshot(app, case.id)
    for verb in ACTIONS:
        if verb in ALLOWED[actor]:
            continue
        key = await _press(app, actor, verb, case.id)
        assert key in DENIALS, (actor, verb, key)
        assert await _snapshot(app, case.id) == before, (actor, verb)
    assert co_users  # the leak has a co-handler; its standing is tested below


async def test_allowed_actions_are_not_denied(app: App) -> None:
    case = await _open_leak(app)
    for actor, verbs in ALLOWED.items():
        for verb in sorted(verbs - {"acc"}):
            key = await _press(app, actor, verb, case.id)
            assert key not in DENIALS, (actor, verb, key)
            await app.handle(make_incoming(actor, "取消"))
    assert await _press(app, "floor-1", "acc", case.id) == "handling.accepted"
    assert await _press(app, "floor-1", "acc", case.id) == "handling.not_now"


async def test_co_handler_may_add_progress_but_not_resolve(app: App) -> None:
    case = await _open_leak(app)
    async with app.db.transaction() as session:
        co = await session.scalar(
            select(ChannelIdentity.external_id)
            .join(CaseMember, CaseMember.user_id == ChannelIdentity.user_id)
            .where(CaseMember.case_id == case.id, CaseMember.part == "co")
        )
    assert co is not None
    assert await _press(app, co, "prog", case.id) == "handling.ask_progress"
    await app.handle(make_incoming(co, "取消"))
    before = await _snapshot(app, case.id)
    for verb in ("acc", "esc", "res", "rea", "rate"):
        assert await _press(app, co, verb, case.id) in DENIALS
    assert await _snapshot(app, case.id) == before
