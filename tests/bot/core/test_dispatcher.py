"""The dispatcher's guarantees: state in the database, exactly-once, per-user order."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.app import App
from bot.core.buttons import ButtonSigner
from bot.core.catalog import load_catalog
from bot.core.context import Context
from bot.core.dispatcher import Dispatcher
from bot.core.events import Incoming
from bot.core.flows import Router
from bot.core.replies import Reply
from bot.storage.db import Database
from bot.storage.models import Compound, ConversationState, OutboxMessage, ProcessedUpdate
from tests.conftest import make_app
from tests.factories import Clock, make_incoming

SIGNER = ButtonSigner(b"dispatcher-test-secret-0123456789")


class Probe:
    """Handlers that record when they run, to observe overlap and order."""

    def __init__(self) -> None:
        self.active: dict[str, int] = {}
        self.max_active: dict[str, int] = {}
        self.max_total = 0
        self.order: list[tuple[str, str]] = []
        self.calls = 0

    async def slow(self, event: Incoming, ctx: Context) -> list[Reply]:
        user = event.user_id
        self.active[user] = self.active.get(user, 0) + 1
        self.max_active[user] = max(self.max_active.get(user, 0), self.active[user])
        self.max_total = max(self.max_total, sum(self.active.values()))
        self.order.append((user, event.text or ""))
        await asyncio.sleep(0.02)
        self.active[user] -= 1
        return [Reply(f"done {event.text}")]

    async def explode(self, event: Incoming, ctx: Context) -> list[Reply]:
        self.calls += 1
        ctx.session.add(Compound(code="BOOM", name="不应保存"))
        await ctx.session.flush()
        raise RuntimeError("handler bug")


def _dispatcher(db: Database, probe: Probe) -> Dispatcher:
    router = Router(fallback=probe.slow)
    router.command("explode", probe.explode)
    return Dispatcher(db, router, load_catalog(), SIGNER)


async def test_conversation_state_lives_in_the_database_not_in_the_process(
    db: Database,
) -> None:
    first = await make_app(db)
    await first.handle(make_incoming("guest-1", "/start"))
    await first.handle(make_incoming("guest-1", "1栋"))
    # A different process (new App, new engine) continues the same conversation.
    second = App(
        first.settings, channels=first.channels, db=Database(db.url, search_path=db.search_path)
    )
    await second.start(migrate=False)
    try:
        outcome = await second.handle(make_incoming("guest-1", "2单元"))
        assert [s.payload["key"] for s in outcome.replies] == ["register.ask_room"]
    finally:
        await second.close()


async def test_two_updates_of_one_user_never_run_at_the_same_time(db: Database) -> None:
    probe = Probe()
    dispatcher = _dispatcher(db, probe)
    events = [make_incoming(user, str(n)) for n in range(5) for user in ("a", "b")]
    await asyncio.gather(*(dispatcher.handle(e) for e in events))
    assert probe.max_active == {"a": 1, "b": 1}
    assert [t for u, t in probe.order if u == "a"] == ["0", "1", "2", "3", "4"]


async def test_one_user_is_serialised_across_processes_by_the_database(db: Database) -> None:
    probe = Probe()
    other = Database(db.url, search_path=db.search_path)  # another process's pool
    try:
        one, two = _dispatcher(db, probe), _dispatcher(other, probe)
        events = [make_incoming("a", str(n)) for n in range(6)]
        await asyncio.gather(*(d.handle(e) for d, e in zip([one, two] * 3, events, strict=True)))
    finally:
        await other.dispose()
    assert probe.max_active == {"a": 1}
    assert len(probe.order) == 6


async def test_failing_handler_rolls_back_and_apologises_once(db: Database) -> None:
    probe = Probe()
    dispatcher = _dispatcher(db, probe)
    event = make_incoming("a", "/explode", update_id="boom-1")
    outcome = await dispatcher.handle(event)
    assert [s.payload["key"] for s in outcome.replies] == ["errors.generic"]
    again = await dispatcher.handle(event)
    assert again.duplicate and again.replies == outcome.replies
    assert probe.calls == 1
    async with db.transaction() as session:
        assert await session.scalar(select(Compound).where(Compound.code == "BOOM")) is None
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


async def test_abandoned_flow_expires(db: Database) -> None:
    app = await make_app(db)
    clock = Clock()
    app.dispatcher.clock = clock
    await app.handle(make_incoming("guest-1", "/start"))
    await app.handle(make_incoming("guest-1", "1栋"))
    clock.advance(hours=3)
    outcome = await app.handle(make_incoming("guest-1", "2单元"))
    keys = [s.payload["key"] for s in outcome.replies]
    assert keys == ["start.welcome_new", "register.ask_building"]


async def test_commit_wakes_the_delivery_worker(db: Database) -> None:
    woken: list[bool] = []
    dispatcher = Dispatcher(
        db,
        Router(fallback=Probe().slow),
        load_catalog(),
        SIGNER,
        on_commit=lambda: woken.append(True),
    )
    await dispatcher.handle(make_incoming("a", "hi"))
    assert woken == [True]


async def test_a_draft_edited_in_place_is_saved_without_being_told(db: Database) -> None:
    async def start(event: Incoming, ctx: Context) -> list[Reply]:
        ctx.state.data = {"lines": ["第一句"]}
        ctx.state.changed = True
        return [Reply("开始")]

    async def add(event: Incoming, ctx: Context) -> list[Reply]:
        ctx.state.data["lines"].append(event.text or "")  # no ``changed``: a handler forgot
        return [Reply("收到")]

    router = Router(fallback=add)
    router.command("start", start)
    dispatcher = Dispatcher(db, router, load_catalog(), SIGNER)
    await dispatcher.handle(make_incoming("a", "/start"))
    await dispatcher.handle(make_incoming("a", "第二句"))
    await dispatcher.handle(make_incoming("a", "第三句"))
    async with db.transaction() as session:
        state = await session.get(ConversationState, ("web", "a", "a", ""))
    assert state is not None and state.data == {"lines": ["第一句", "第二句", "第三句"]}
