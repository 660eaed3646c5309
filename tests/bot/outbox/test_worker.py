"""The delivery worker: retries, rate-limit answers, blocked users, ordering, claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.channels.base import Rejected, RetryAfter, Sent, TransientFailure, Unreachable
from bot.channels.recording import RecordingChannel
from bot.outbox.worker import OutboxPolicy, OutboxWorker
from bot.storage.db import Database
from bot.storage.models import ChannelIdentity, OutboxMessage, OutboxStatus, User
from tests.factories import Clock, enqueue


def _worker(db: Database, channel: RecordingChannel, clock: Clock, **policy: float) -> OutboxWorker:
    return OutboxWorker(db, {"web": channel}, OutboxPolicy(**policy), clock=clock)  # type: ignore[arg-type]


async def _row(db: Database, ref: int) -> OutboxMessage:
    async with db.transaction() as session:
        row = await session.get(OutboxMessage, ref)
        assert row is not None
        return row


async def test_pending_message_is_delivered_once(db: Database) -> None:
    channel = RecordingChannel("web")
    ref = await enqueue(db, "chat-1", "你好")
    clock = Clock()
    worker = _worker(db, channel, clock)
    assert await worker.drain() == 1
    assert await worker.drain() == 0
    assert [m.payload["text"] for m in channel.sent] == ["你好"]
    row = await _row(db, ref)
    assert row.status == OutboxStatus.SENT and row.sent_at is not None


async def test_transient_failure_is_retried_after_backoff(db: Database) -> None:
    channel = RecordingChannel("web")
    ref = await enqueue(db, "chat-1", "你好")
    clock = Clock()
    worker = _worker(db, channel, clock, backoff_base_seconds=10)
    channel.fail_next(TransientFailure("connection reset"))
    await worker.drain()
    row = await _row(db, ref)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert timedelta(seconds=7) < row.next_attempt_at - clock.now <= timedelta(seconds=12)
    assert await worker.drain() == 0  # not due yet
    clock.advance(seconds=13)
    assert await worker.drain() == 1
    assert (await _row(db, ref)).status == OutboxStatus.SENT
    assert len(channel.sent) == 1


async def test_channel_exception_is_retried_not_lost(db: Database) -> None:
    class Exploding(RecordingChannel):
        calls = 0

        async def send(self, message):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 1:
                raise OSError("network unreachable")
            return await super().send(message)

    channel = Exploding("web")
    ref = await enqueue(db, "chat-1", "你好")
    clock = Clock()
    worker = _worker(db, channel, clock)
    await worker.drain()
    assert (await _row(db, ref)).last_error == "OSError: network unreachable"
    clock.advance(seconds=60)
    await worker.drain()
    assert (await _row(db, ref)).status == OutboxStatus.SENT


async def test_retry_after_is_obeyed_without_counting_an_attempt(db: Database) -> None:
    channel = RecordingChannel("web")
    ref = await enqueue(db, "chat-1", "你好")
    clock = Clock()
    worker = _worker(db, channel, clock)
    channel.fail_next(RetryAfter(7))
    await worker.drain()
    row = await _row(db, ref)
    assert row.attempts == 0 and row.next_attempt_at == clock.now + timedelta(seconds=7)
    clock.advance(seconds=6)
    assert await worker.drain() == 0
    clock.advance(seconds=2)
    assert await worker.drain() == 1


async def test_blocked_user_is_marked_unreachable_and_not_retried(db: Database) -> None:
    channel = RecordingChannel("web")
    async with db.transaction() as session:
        user = User(name="张三")
        session.add(user)
        await session.flush()
        session.add(
            ChannelIdentity(channel="web", external_id="chat-9", chat_id="chat-9", user_id=user.id)
        )
    ref = await enqueue(db, "chat-9", "通知")
    clock = Clock()
    worker = _worker(db, channel, clock)
    channel.fail_next(Unreachable("bot was blocked by the user"))
    await worker.drain()
    clock.advance(hours=1)
    assert await worker.drain() == 0
    assert (await _row(db, ref)).status == OutboxStatus.UNREACHABLE
    async with db.transaction() as session:
        identity = await session.scalar(select(ChannelIdentity))
        assert identity is not None and identity.unreachable_at is not None


async def test_rejected_message_fails_without_retry(db: Database) -> None:
    channel = RecordingChannel("web")
    ref = await enqueue(db, "chat-1", "你好")
    channel.fail_next(Rejected("message is too long"))
    clock = Clock()
    worker = _worker(db, channel, clock)
    await worker.drain()
    clock.advance(hours=1)
    assert await worker.drain() == 0
    assert (await _row(db, ref)).status == OutboxStatus.FAILED


async def test_worker_gives_up_after_max_attempts(db: Database) -> None:
    channel = RecordingChannel("web")
    ref = await enqueue(db, "chat-1", "你好")
    clock = Clock()
    worker = _worker(db, channel, clock, max_attempts=3)
    channel.fail_next(*[TransientFailure("timeout")] * 3)
    for _ in range(3):
        await worker.drain()
        clock.advance(hours=1)
    row = await _row(db, ref)
    assert row.status == OutboxStatus.FAILED and row.attempts == 3
    assert channel.sent == []


async def test_one_chat_gets_its_messages_in_order_even_when_one_waits_for_retry(
    db: Database,
) -> None:
    channel = RecordingChannel("web")
    for text in ("一", "二", "三"):
        await enqueue(db, "chat-a", text)
    await enqueue(db, "chat-b", "别人的")
    clock = Clock()
    worker = _worker(db, channel, clock)
    channel.fail_next(TransientFailure("timeout"))
    await worker.drain()
    assert [m.payload["text"] for m in channel.sent] == ["别人的"]
    clock.advance(minutes=5)
    await worker.drain()
    assert [p["text"] for p in channel.sent_to("chat-a")] == ["一", "二", "三"]


async def test_expired_lease_of_a_dead_worker_is_taken_over(db: Database) -> None:
    channel = RecordingChannel("web")
    ref = await enqueue(db, "chat-1", "你好")
    clock = Clock()
    dead = _worker(db, channel, clock, lease_seconds=30)
    assert [r.id for r in await dead.claim()] == [ref]  # claimed, then the process "dies"
    alive = _worker(db, channel, clock, lease_seconds=30)
    assert await alive.drain() == 0
    clock.advance(seconds=31)
    assert await alive.drain() == 1
    await dead.record(await _row(db, ref), Sent())  # a late answer from the dead worker
    row = await _row(db, ref)
    assert row.status == OutboxStatus.SENT and row.claimed_by == alive.worker_id
    assert len(channel.sent) == 1


async def test_two_workers_deliver_every_message_exactly_once_and_in_order(db: Database) -> None:
    chats = [f"chat-{i}" for i in range(20)]
    for n in range(10):
        for chat in chats:
            await enqueue(db, chat, str(n))
    channel = RecordingChannel("web")
    other = Database(db.url, search_path=db.search_path)  # a second process's pool
    try:
        clock = Clock()
        first = _worker(db, channel, clock, batch_size=15)
        second = OutboxWorker(other, {"web": channel}, OutboxPolicy(batch_size=15), clock=clock)
        counts = await asyncio.gather(first.drain(), second.drain())
    finally:
        await other.dispose()
    assert sum(counts) == 200 and min(counts) > 0, counts
    assert len(channel.sent) == 200
    assert len({m.id for m in channel.sent}) == 200
    for chat in chats:
        assert [p["text"] for p in channel.sent_to(chat)] == [str(n) for n in range(10)]


async def test_a_row_committed_after_a_later_row_of_its_chat_was_claimed_waits_for_that_send(
    db: Database,
) -> None:
    # Ids come from a sequence: the transaction holding id 1 may commit after id 2 was
    # already claimed by a worker. Id 1 must then wait until id 2 is no longer in flight.
    first, second = await enqueue(db, "chat-1", "one"), await enqueue(db, "chat-1", "two")
    clock = Clock()
    async with db.transaction() as session:
        row = await session.get(OutboxMessage, second)
        assert row is not None
        row.status, row.claimed_by = OutboxStatus.SENDING, "another-worker"
        row.lease_until = clock.now + timedelta(seconds=30)
    channel = RecordingChannel("web")
    worker = _worker(db, channel, clock, lease_seconds=30)
    assert await worker.claim() == []  # "two" is being sent to chat-1 right now
    clock.advance(seconds=31)  # that worker died: its lease ran out
    assert await worker.drain() == 2
    assert [m.payload["text"] for m in channel.sent] == ["one", "two"]
    assert (await _row(db, first)).status == OutboxStatus.SENT


async def test_replies_settled_together_share_commits_and_each_keeps_its_result(
    db: Database,
) -> None:
    channel = RecordingChannel("web")
    refs = [await enqueue(db, f"chat-{n}", f"回复{n}") for n in range(30)]
    channel.fail_next(Unreachable("bot was blocked by the user"))
    clock = Clock()
    worker = _worker(db, channel, clock)
    assert await worker.drain() == 30
    assert worker._records.items == 30
    assert worker._records.batches < 10  # not one transaction per reply
    statuses = [(await _row(db, ref)).status for ref in refs]
    assert statuses.count(OutboxStatus.UNREACHABLE) == 1
    assert statuses.count(OutboxStatus.SENT) == 29
