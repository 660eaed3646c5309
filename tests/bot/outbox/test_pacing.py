"""Send rates: the pacer's channel bucket, per-chat spacing of bulk messages, 429 holds,
and the delivery worker's two lanes honouring them.

Timings are asserted as lower bounds only (a slow machine can only make things later);
"does not wait" is asserted as "never suspends", which no machine's speed changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.channels.base import (
    Outbound,
    RetryAfter,
    SendResult,
    Sent,
    TransientFailure,
    Unreachable,
)
from bot.channels.recording import RecordingChannel
from bot.outbox.pacing import BURST_SECONDS, ChannelRate, Pacer
from bot.outbox.worker import Lane, OutboxPolicy, OutboxWorker
from bot.storage.db import Database
from bot.storage.models import (
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    Priority,
    User,
)
from tests.factories import Clock, enqueue, most_in_window

SLACK = 0.01  # seconds: float and clock-resolution leeway on lower bounds


def now() -> float:
    return asyncio.get_running_loop().time()


def never_suspends(coro: Coroutine[Any, Any, None]) -> bool:
    """Run ``coro`` one step: True if it finished without waiting for anything."""
    try:
        coro.send(None)
    except StopIteration:
        return True
    coro.close()
    return False


def burst_of(per_second: float) -> float:
    return max(1.0, per_second * BURST_SECONDS)


class TimedChannel(RecordingChannel):
    """Records when each send (attempt) reached the platform, by the loop's clock."""

    def __init__(self, name: str = "web") -> None:
        super().__init__(name)
        self.times: list[float] = []

    async def send(self, message: Outbound) -> SendResult:
        self.times.append(now())
        return await super().send(message)


# -- the pacer alone ---------------------------------------------------------------


async def test_pacer_keeps_a_channel_under_its_rate() -> None:
    rate, count = 200.0, 80
    pacer = Pacer({"telegram": ChannelRate(per_second=rate)})
    times: list[float] = []

    async def one(i: int) -> None:
        await pacer.acquire("telegram", f"chat-{i}", bulk=True)
        times.append(now())

    start = now()
    await asyncio.gather(*(one(i) for i in range(count)))
    burst = burst_of(rate)
    # The bucket starts full: a burst goes at once, the rest at the rate.
    assert times[-1] - start >= (count - burst) / rate - SLACK
    for window in (0.05, 0.1, 0.1 + BURST_SECONDS, 0.25):
        assert most_in_window(times, window) <= rate * window + burst + 1, window


async def test_unlimited_channel_never_waits() -> None:
    pacer = Pacer({"web": ChannelRate(per_second=None), "telegram": ChannelRate(per_second=5)})
    for i in range(1000):
        assert never_suspends(pacer.acquire("web", f"chat-{i % 3}", bulk=i % 2 == 0))
        assert never_suspends(pacer.acquire("emulator", "chat-1", bulk=True))  # no rate at all


async def test_limited_channel_sends_its_burst_at_once_then_waits() -> None:
    pacer = Pacer({"telegram": ChannelRate(per_second=100)})
    burst = int(burst_of(100))
    for i in range(burst):
        assert never_suspends(pacer.acquire("telegram", f"chat-{i}", bulk=False)), i
    assert not never_suspends(pacer.acquire("telegram", "one-too-many", bulk=False))


async def test_bulk_messages_to_one_chat_are_spaced_by_the_chat_interval() -> None:
    interval = 0.2
    pacer = Pacer({"telegram": ChannelRate(per_second=None, chat_interval=interval)})
    times: list[float] = []

    async def one() -> None:
        await pacer.acquire("telegram", "chat-a", bulk=True)
        times.append(now())

    await asyncio.gather(one(), one(), one())
    times.sort()
    assert times[1] - times[0] >= interval - SLACK
    assert times[2] - times[1] >= interval - SLACK


async def test_bulk_messages_to_other_chats_and_interactive_ones_are_not_spaced() -> None:
    pacer = Pacer({"telegram": ChannelRate(per_second=None, chat_interval=5.0)})
    assert never_suspends(pacer.acquire("telegram", "chat-a", bulk=True))
    # chat-a's next bulk slot is 5 s away; nothing else waits for it.
    for chat in ("chat-b", "chat-c", "chat-d"):
        assert never_suspends(pacer.acquire("telegram", chat, bulk=True)), chat
    for _ in range(5):
        assert never_suspends(pacer.acquire("telegram", "chat-a", bulk=False))
    assert not never_suspends(pacer.acquire("telegram", "chat-a", bulk=True))


async def test_no_chat_interval_means_no_spacing() -> None:
    pacer = Pacer({"telegram": ChannelRate(per_second=None, chat_interval=0.0)})
    for _ in range(10):
        assert never_suspends(pacer.acquire("telegram", "chat-a", bulk=True))


async def test_hold_stops_only_the_channel_that_answered_429() -> None:
    pacer = Pacer({"telegram": ChannelRate(per_second=100), "vk": ChannelRate(per_second=100)})
    start = now()
    pacer.hold("telegram", 0.3)
    assert never_suspends(pacer.acquire("web", "chat-1", bulk=False))
    assert never_suspends(pacer.acquire("vk", "chat-1", bulk=True))
    await pacer.acquire("telegram", "chat-1", bulk=False)
    assert now() - start >= 0.3 - SLACK
    resumed = now()  # the hold is over: only the rate's own 1/100 s spacing remains
    await pacer.acquire("telegram", "chat-2", bulk=False)
    assert now() - resumed <= 0.01 + SLACK


async def test_holds_wait_for_every_sender_of_the_channel() -> None:
    pacer = Pacer()
    start = now()
    pacer.hold("telegram", 0.3)
    times: list[float] = []

    async def one(chat: str, bulk: bool) -> None:
        await pacer.acquire("telegram", chat, bulk=bulk)
        times.append(now())

    await asyncio.gather(one("a", True), one("b", False), one("c", True))
    assert min(times) - start >= 0.3 - SLACK


async def test_a_shorter_hold_does_not_shorten_a_longer_one() -> None:
    pacer = Pacer()
    start = now()
    pacer.hold("telegram", 0.3)
    pacer.hold("telegram", 0.05)
    await pacer.acquire("telegram", "chat-1", bulk=False)
    assert now() - start >= 0.3 - SLACK


async def test_bulk_messages_to_one_chat_stay_spaced_after_the_first_waited_out_a_hold() -> None:
    """The next slot counts from when the delayed message went, not from when it asked."""
    interval = 0.5
    pacer = Pacer({"telegram": ChannelRate(per_second=None, chat_interval=interval)})
    pacer.hold("telegram", 0.4)
    await pacer.acquire("telegram", "chat-a", bulk=True)
    first = now()
    await pacer.acquire("telegram", "chat-a", bulk=True)
    assert now() - first >= interval - SLACK


async def test_bulk_messages_to_one_chat_stay_spaced_after_the_first_waited_for_the_bucket() -> (
    None
):
    interval = 0.3
    pacer = Pacer({"telegram": ChannelRate(per_second=5, chat_interval=interval)})  # depth 1
    await pacer.acquire("telegram", "someone-else", bulk=False)  # empties the bucket
    await pacer.acquire("telegram", "chat-a", bulk=True)  # waits ~0.2 s for a token
    first = now()
    await pacer.acquire("telegram", "chat-a", bulk=True)
    assert now() - first >= interval - SLACK


# -- the worker with a pacer --------------------------------------------------------


async def _bulk_rows(db: Database, clock: Clock, chats: list[str], text: str = "普法") -> list[int]:
    async with db.transaction() as session:
        rows = [
            OutboxMessage(
                channel="web",
                chat_id=chat,
                payload={"text": text, "key": "broadcast.notice"},
                priority=Priority.BULK,
                next_attempt_at=clock.now,
                origin="test-broadcast",
            )
            for chat in chats
        ]
        session.add_all(rows)
        await session.flush()
        return [r.id for r in rows]


async def _row(db: Database, ref: int) -> OutboxMessage:
    async with db.transaction() as session:
        row = await session.get(OutboxMessage, ref)
        assert row is not None
        return row


def _worker(
    db: Database,
    channel: RecordingChannel,
    clock: Clock,
    pacer: Pacer | None = None,
    **policy: Any,
) -> OutboxWorker:
    return OutboxWorker(db, {"web": channel}, OutboxPolicy(**policy), clock=clock, pacer=pacer)


async def test_worker_sends_a_bulk_batch_no_faster_than_the_channel_rate(db: Database) -> None:
    rate, count = 100.0, 40
    clock = Clock()
    await _bulk_rows(db, clock, [f"chat-{i}" for i in range(count)])
    channel = TimedChannel()
    worker = _worker(db, channel, clock, Pacer({"web": ChannelRate(per_second=rate)}))
    start = now()
    assert await worker.run_once(Lane.BULK) == count
    assert len(channel.sent) == count
    burst = burst_of(rate)
    assert max(channel.times) - start >= (count - burst) / rate - SLACK
    assert most_in_window(channel.times, 0.1) <= rate * 0.1 + burst + 1
    async with db.transaction() as session:
        statuses = set((await session.scalars(select(OutboxMessage.status))).all())
    assert statuses == {OutboxStatus.SENT}


async def test_worker_spaces_bulk_messages_to_one_chat(db: Database) -> None:
    clock = Clock()
    await _bulk_rows(db, clock, ["chat-a", "chat-a", "chat-a"])
    channel = TimedChannel()
    worker = _worker(db, channel, clock, Pacer({"web": ChannelRate(chat_interval=0.2)}))
    assert await worker.drain() == 3
    assert len(channel.sent_to("chat-a")) == 3
    gaps = [b - a for a, b in zip(channel.times, channel.times[1:], strict=False)]
    assert all(gap >= 0.2 - SLACK for gap in gaps), gaps


async def test_429_puts_the_row_back_for_retry_after_and_holds_the_channel(db: Database) -> None:
    clock = Clock()
    (ref,) = await _bulk_rows(db, clock, ["chat-1"])
    channel = TimedChannel()
    worker = _worker(db, channel, clock)
    channel.fail_next(RetryAfter(0.5))
    start = now()
    assert await worker.run_once(Lane.BULK) == 1
    row = await _row(db, ref)
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    assert row.next_attempt_at == clock.now + timedelta(seconds=0.5)
    assert row.last_error is not None and "retry_after" in row.last_error
    assert channel.sent == []
    assert await worker.run_once(Lane.BULK) == 0  # not due by the database's clock yet
    clock.advance(seconds=0.5)
    assert await worker.run_once(Lane.BULK) == 1
    assert len(channel.sent) == 1 and channel.times[-1] - start >= 0.5 - SLACK
    assert (await _row(db, ref)).status == OutboxStatus.SENT


async def test_429_does_not_hold_other_channels(db: Database) -> None:
    clock = Clock()
    await _bulk_rows(db, clock, ["chat-1"])
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock)
    channel.fail_next(RetryAfter(30))
    await worker.run_once(Lane.BULK)
    # Anything else on the channel, of either lane, waits out the hold; other channels go.
    assert not never_suspends(worker.pacer.acquire("web", "chat-2", bulk=False))
    assert not never_suspends(worker.pacer.acquire("web", "chat-3", bulk=True))
    assert never_suspends(worker.pacer.acquire("telegram", "chat-2", bulk=True))


class GatedPacer(Pacer):
    """Lets ``free`` messages through, then keeps the rest waiting until ``release`` — as
    a long 429 hold (Telegram's retry_after can exceed the lease) or a busy bucket would."""

    def __init__(self, free: int) -> None:
        super().__init__()
        self.free = free
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire(
        self,
        channel: str,
        chat_id: str,
        *,
        bulk: bool,
        before_long_wait: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if self.free <= 0:
            if before_long_wait is not None:  # the contract: a long wait is announced
                await before_long_wait()
            self.waiting.set()
            await self.release.wait()
        self.free -= 1
        await super().acquire(channel, chat_id, bulk=bulk)


async def test_rows_of_a_live_worker_waiting_out_a_long_hold_are_not_sent_twice(
    db: Database,
) -> None:
    clock = Clock()
    await _bulk_rows(db, clock, ["chat-1", "chat-2"])
    channel = RecordingChannel("web")
    pacer = GatedPacer(free=1)
    slow = _worker(db, channel, clock, pacer, lease_seconds=30, bulk_concurrency=1)
    round_ = asyncio.create_task(slow.run_once(Lane.BULK))
    await asyncio.wait_for(pacer.waiting.wait(), timeout=30)  # chat-1 sent, chat-2 waits
    clock.advance(seconds=31)  # the wait outlasts the lease; the worker is alive
    other = _worker(db, channel, clock)
    await other.drain()
    pacer.release.set()
    await round_
    assert sorted(m.chat_id for m in channel.sent) == ["chat-1", "chat-2"]


async def test_403_marks_the_row_and_the_identity_unreachable_and_never_retries(
    db: Database,
) -> None:
    clock = Clock()
    async with db.transaction() as session:
        user = User(name="张三")
        session.add(user)
        await session.flush()
        session.add_all(
            [
                ChannelIdentity(
                    channel="web", external_id="chat-9", chat_id="chat-9", user_id=user.id
                ),
                ChannelIdentity(
                    channel="telegram", external_id="909", chat_id="909", user_id=user.id
                ),
            ]
        )
    (ref,) = await _bulk_rows(db, clock, ["chat-9"])
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock)
    channel.fail_next(Unreachable("Forbidden: bot was blocked by the user"))
    assert await worker.run_once(Lane.BULK) == 1
    row = await _row(db, ref)
    assert row.status == OutboxStatus.UNREACHABLE
    assert row.last_error == "Forbidden: bot was blocked by the user"
    async with db.transaction() as session:
        identities = {i.channel: i for i in (await session.scalars(select(ChannelIdentity))).all()}
    assert identities["web"].unreachable_at == clock.now
    assert identities["telegram"].unreachable_at is None  # only the chat that refused
    clock.advance(hours=1)
    assert await worker.drain() == 0
    assert channel.sent == []
    assert (await _row(db, ref)).status == OutboxStatus.UNREACHABLE


async def test_transient_failure_of_a_bulk_row_is_retried_with_backoff(db: Database) -> None:
    clock = Clock()
    (ref,) = await _bulk_rows(db, clock, ["chat-1"])
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock, backoff_base_seconds=10)
    channel.fail_next(TransientFailure("connection reset"))
    assert await worker.run_once(Lane.BULK) == 1
    row = await _row(db, ref)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error == "connection reset"
    assert timedelta(seconds=7) < row.next_attempt_at - clock.now <= timedelta(seconds=12)
    assert await worker.drain() == 0
    clock.advance(seconds=13)
    assert await worker.drain() == 1
    assert (await _row(db, ref)).status == OutboxStatus.SENT
    assert len(channel.sent) == 1


# -- lanes ---------------------------------------------------------------------------


async def test_reply_queued_behind_pending_bulk_rows_of_its_chat_goes_first(
    db: Database,
) -> None:
    clock = Clock()
    bulk = await _bulk_rows(db, clock, ["resident-1", "resident-1", "resident-1"])
    reply = await enqueue(db, "resident-1", "您的报事已受理")
    clock.advance(seconds=1)  # the reply is stamped due by the wall clock
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock)
    assert [r.id for r in await worker.claim(Lane.INTERACTIVE)] == [reply]
    # The bulk lane still takes its own rows one at a time, in order.
    assert [r.id for r in await worker.claim(Lane.BULK)] == [bulk[0]]


async def test_interactive_lane_delivers_a_reply_while_the_bulk_queue_waits(
    db: Database,
) -> None:
    clock = Clock()
    await _bulk_rows(db, clock, ["resident-1", "resident-1"], text="普法")
    await enqueue(db, "resident-1", "回复")
    clock.advance(seconds=1)
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock)
    assert await worker.run_once(Lane.INTERACTIVE) == 1
    assert [p["text"] for p in channel.sent_to("resident-1")] == ["回复"]
    await worker.drain()
    assert [p["text"] for p in channel.sent_to("resident-1")] == ["回复", "普法", "普法"]


async def test_bulk_row_waits_for_an_earlier_reply_of_its_chat(db: Database) -> None:
    clock = Clock()
    reply = await enqueue(db, "resident-1", "回复")
    clock.advance(seconds=1)
    (bulk,) = await _bulk_rows(db, clock, ["resident-1"])
    (other,) = await _bulk_rows(db, clock, ["resident-2"])
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock)
    assert [r.id for r in await worker.claim(Lane.BULK)] == [other]
    claimed = await worker.claim(Lane.INTERACTIVE)
    assert [r.id for r in claimed] == [reply]
    assert await worker.claim(Lane.BULK) == []  # the reply is being sent: still waits
    await worker.record(claimed[0], Sent())
    assert [r.id for r in await worker.claim(Lane.BULK)] == [bulk]
