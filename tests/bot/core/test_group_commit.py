"""Group commit: updates that arrive together share a transaction and keep every
guarantee of handling them one at a time."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.core.buttons import ButtonSigner
from bot.core.catalog import load_catalog
from bot.core.context import Context
from bot.core.dispatcher import Dispatcher
from bot.core.events import Incoming
from bot.core.flows import Router
from bot.core.replies import Reply
from bot.storage.db import Database
from bot.storage.group_commit import GroupCommit
from bot.storage.models import Compound, ConversationState, OutboxMessage, ProcessedUpdate
from tests.bot.core.test_dispatcher import Probe
from tests.factories import make_incoming

SIGNER = ButtonSigner(b"group-commit-test-secret-0123456789")


class Handlers(Probe):
    async def echo(self, event: Incoming, ctx: Context) -> list[Reply]:
        """Three replies, a flow position and a row of its own: every kind of write."""
        ctx.session.add(Compound(code=f"{event.user_id}-{event.text}"[:32], name=event.text or ""))
        ctx.state.data = {"last": event.text}
        ctx.state.changed = True
        return [Reply(f"{event.text} #{n}") for n in range(3)]


def _dispatcher(db: Database, handlers: Handlers) -> Dispatcher:
    router = Router(fallback=handlers.echo)
    router.command("explode", handlers.explode)
    return Dispatcher(db, router, load_catalog(), SIGNER)


async def _count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_updates_arriving_together_share_a_few_transactions(db: Database) -> None:
    dispatcher = _dispatcher(db, Handlers())
    events = [make_incoming(f"u{n}", f"问题{n}") for n in range(40)]
    outcomes = await asyncio.gather(*(dispatcher.handle(e) for e in events))
    assert dispatcher.batches.items == 40
    assert dispatcher.batches.batches <= 3  # the first alone, the rest together
    assert all(len(o.replies) == 3 and not o.duplicate for o in outcomes)
    assert await _count(db, ProcessedUpdate) == 40
    assert await _count(db, OutboxMessage) == 120
    assert await _count(db, Compound) == 40
    async with db.transaction() as session:
        states = {
            s.user_id: s.data
            for s in await session.scalars(
                select(ConversationState).order_by(ConversationState.user_id)
            )
        }
    assert states == {f"u{n}": {"last": f"问题{n}"} for n in range(40)}


async def test_each_chat_gets_its_replies_in_order_from_a_shared_insert(db: Database) -> None:
    dispatcher = _dispatcher(db, Handlers())
    await asyncio.gather(*(dispatcher.handle(make_incoming(f"u{n}", f"q{n}")) for n in range(20)))
    async with db.transaction() as session:
        rows = (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        by_chat: dict[str, list[str]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row.payload["text"])
    assert by_chat == {f"u{n}": [f"q{n} #0", f"q{n} #1", f"q{n} #2"] for n in range(20)}


async def test_outcome_refs_point_at_each_updates_own_rows(db: Database) -> None:
    dispatcher = _dispatcher(db, Handlers())
    events = [make_incoming(f"u{n}", f"q{n}") for n in range(15)]
    outcomes = await asyncio.gather(*(dispatcher.handle(e) for e in events))
    async with db.transaction() as session:
        for event, outcome in zip(events, outcomes, strict=True):
            for sent in outcome.replies:
                row = await session.get(OutboxMessage, sent.ref)
                assert row is not None and row.chat_id == event.chat_id
                assert row.payload == sent.payload


async def test_a_failing_handler_in_a_batch_costs_only_its_own_update(db: Database) -> None:
    handlers = Handlers()
    dispatcher = _dispatcher(db, handlers)
    events = [make_incoming(f"u{n}", f"q{n}") for n in range(8)]
    events.insert(4, make_incoming("bad", "/explode"))
    await dispatcher.handle(make_incoming("warm", "first"))  # the next ones queue up
    outcomes = await asyncio.gather(*(dispatcher.handle(e) for e in events))
    keys = [[s.payload.get("key") for s in o.replies] for o in outcomes]
    assert keys[4] == ["errors.generic"]
    assert all(len(o.replies) == 3 for i, o in enumerate(outcomes) if i != 4)
    assert handlers.calls == 2  # in the batch, then alone
    async with db.transaction() as session:
        assert await session.scalar(select(Compound).where(Compound.code == "BOOM")) is None
    assert await _count(db, Compound) == 9  # each good update once, none twice
    assert await _count(db, ProcessedUpdate) == 10
    assert await _count(db, OutboxMessage) == 3 * 9 + 1


async def test_a_redelivered_update_in_a_batch_replays_its_first_answer(db: Database) -> None:
    dispatcher = _dispatcher(db, Handlers())
    first = make_incoming("u0", "原来的问题", update_id="tg-1")
    original = await dispatcher.handle(first)
    again, *others = await asyncio.gather(
        dispatcher.handle(first),
        *(dispatcher.handle(make_incoming(f"u{n}", f"q{n}")) for n in (1, 2)),
    )
    assert again.duplicate and again.replies == original.replies
    assert not any(o.duplicate for o in others)
    assert await _count(db, Compound) == 3
    assert await _count(db, ProcessedUpdate) == 3


async def test_one_conversation_never_has_two_updates_in_a_batch(db: Database) -> None:
    seen: list[list[str]] = []
    dispatcher = _dispatcher(db, Handlers())
    run = dispatcher.batches._run

    async def spy(take):  # type: ignore[no-untyped-def]
        def recording_take() -> list[Incoming]:
            events = take()
            seen.append([e.user_id for e in events])
            return events

        return await run(recording_take)

    dispatcher.batches._run = spy
    events = [make_incoming(user, str(n)) for n in range(4) for user in ("a", "b", "c")]
    await asyncio.gather(*(dispatcher.handle(e) for e in events))
    assert all(len(batch) == len(set(batch)) for batch in seen)
    async with db.transaction() as session:
        state = await session.scalar(
            select(ConversationState).where(ConversationState.user_id == "a")
        )
    assert state is not None and state.data == {"last": "3"}


# -- the mechanism alone --------------------------------------------------------------------
async def test_what_arrives_while_a_batch_runs_goes_in_the_next_one() -> None:
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(take):  # type: ignore[no-untyped-def]
        items = take()
        batches.append(items)
        if len(batches) == 1:
            await release.wait()
        return [item * 10 for item in items]

    group: GroupCommit[int, int] = GroupCommit(run, max_batch=3)
    first = asyncio.ensure_future(group.submit(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(group.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 0
    assert [await r for r in rest] == [10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3], [4, 5]]


async def test_a_batch_failure_reaches_its_callers_and_not_the_next_batch() -> None:
    calls = 0

    async def run(take):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        items = take()
        if calls == 1:
            await asyncio.sleep(0.01)
            raise ValueError("broken batch")
        return items

    group: GroupCommit[str, str] = GroupCommit(run)
    first = asyncio.ensure_future(group.submit("a"))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(group.submit("b"))
    with pytest.raises(ValueError, match="broken batch"):
        await first
    assert await second == "b"


async def test_a_failure_before_take_fails_the_waiting_instead_of_spinning() -> None:
    async def run(take):  # type: ignore[no-untyped-def]
        raise ConnectionError("database down")

    group: GroupCommit[str, str] = GroupCommit(run)
    results = await asyncio.gather(group.submit("a"), group.submit("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
