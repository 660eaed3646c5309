"""BroadcastService: expansion into bulk outbox rows, scheduling, crash recovery of the
delivery, cancel, finishing, and quiz answers once per person — on the demo compound."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.channels.base import Outbound, TransientFailure, Unreachable
from bot.channels.recording import RecordingChannel
from bot.outbox.enqueue import OutboxWriter
from bot.outbox.worker import Lane, OutboxPolicy, OutboxWorker
from bot.scheduler.jobs import Jobs
from bot.storage.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    ChannelIdentity,
    Compound,
    OutboxMessage,
    OutboxStatus,
    Priority,
    QuizAnswer,
    User,
    utcnow,
)
from handlers.broadcasts import BroadcastService, Progress
from handlers.quiz import pick_questions
from tests.factories import Clock, make_incoming

NOTICE = "《民法典》规定：不得从建筑物中抛掷物品。"
BUILDING_1 = {"resident-1", "resident-2", "floor-1", "leader-b1"}


def _service(app: App, session: AsyncSession, now: datetime) -> BroadcastService:
    assert app.signer is not None
    return BroadcastService(session, OutboxWriter(session, app.signer), app.catalog, now)


def _jobs(app: App) -> Jobs:
    assert app.scheduler is not None
    return app.scheduler.jobs


async def _user_id(app: App, external_id: str) -> int:
    async with app.db.transaction() as session:
        found = await session.scalar(
            select(ChannelIdentity.user_id).where(ChannelIdentity.external_id == external_id)
        )
    assert found is not None
    return found


async def _sddj(app: App) -> int:
    async with app.db.transaction() as session:
        found = await session.scalar(select(Compound.id).where(Compound.code == "SDDJ"))
    assert found is not None
    return found


async def _compose(app: App, now: datetime, **kwargs: Any) -> int:
    values: dict[str, Any] = {
        "sender_id": None,
        "compound_id": None,
        "targets": ["building:SDDJ-1"],
        "text": NOTICE,
    }
    values.update(kwargs)
    async with app.db.transaction() as session:
        broadcast = await _service(app, session, now).compose(**values)
        return broadcast.id


async def _broadcast(app: App, broadcast_id: int) -> Broadcast:
    async with app.db.transaction() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return broadcast


async def _progress(app: App, broadcast_id: int) -> Progress:
    async with app.db.transaction() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return await _service(app, session, utcnow()).progress(broadcast)


async def _bulk_rows(app: App, broadcast_id: int | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.priority == Priority.BULK)
    if broadcast_id is not None:
        query = query.where(OutboxMessage.broadcast_id == broadcast_id)
    async with app.db.transaction() as session:
        return list((await session.scalars(query.order_by(OutboxMessage.id))).all())


async def _rows_to(app: App, chat_id: str, key: str) -> list[OutboxMessage]:
    async with app.db.transaction() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == chat_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [r for r in rows if r.payload.get("key") == key]


def _notices(channel: RecordingChannel) -> Counter[str]:
    return Counter(m.chat_id for m in channel.sent if m.payload.get("key") == "broadcast.notice")


def _worker(app: App, channel: RecordingChannel, clock: Clock, **policy: Any) -> OutboxWorker:
    return OutboxWorker(app.db, {"web": channel}, OutboxPolicy(**policy), clock=clock)


# -- compose and start -------------------------------------------------------------------


async def test_compose_for_now_writes_one_bulk_row_per_recipient(app: App) -> None:
    now = utcnow()
    secretary = await _user_id(app, "secretary")
    broadcast_id = await _compose(
        app, now, sender_id=secretary, compound_id=await _sddj(app), targets=["building:SDDJ-1"]
    )
    broadcast = await _broadcast(app, broadcast_id)
    assert broadcast.status == BroadcastStatus.SENDING
    assert broadcast.recipients == len(BUILDING_1)
    assert broadcast.started_at == now and broadcast.targets == ["building:SDDJ-1"]
    rows = await _bulk_rows(app)
    assert sorted(r.chat_id for r in rows) == sorted(BUILDING_1)  # one each, nobody else
    for row in rows:
        assert row.broadcast_id == broadcast_id and row.priority == Priority.BULK
        assert row.status == OutboxStatus.PENDING and row.channel == "web"
        assert row.user_id is not None and row.origin == f"broadcast:{broadcast_id}"
        assert row.payload["key"] == "broadcast.notice" and NOTICE in row.payload["text"]
    started = await _rows_to(app, "secretary", "broadcast.started")
    assert len(started) == 1
    assert started[0].priority == Priority.INTERACTIVE and started[0].broadcast_id is None
    assert (await _progress(app, broadcast_id)).as_dict() == {
        "recipients": 4,
        "queued": 4,
        "sent": 0,
        "failed": 0,
        "unreachable": 0,
    }


async def test_compose_for_later_writes_nothing_until_the_scheduler_starts_it(app: App) -> None:
    now = utcnow()
    at = now + timedelta(hours=2)
    secretary = await _user_id(app, "secretary")
    broadcast_id = await _compose(
        app, now, sender_id=secretary, compound_id=await _sddj(app), at=at
    )
    broadcast = await _broadcast(app, broadcast_id)
    assert broadcast.status == BroadcastStatus.SCHEDULED and broadcast.scheduled_at == at
    assert broadcast.recipients == 0 and broadcast.started_at is None
    assert await _bulk_rows(app) == []
    assert len(await _rows_to(app, "secretary", "broadcast.scheduled_note")) == 1

    jobs = _jobs(app)
    assert await jobs.start_broadcasts(at - timedelta(seconds=1)) == 0
    assert await _bulk_rows(app) == []
    assert await jobs.start_broadcasts(at + timedelta(seconds=1)) == 1
    rows = await _bulk_rows(app, broadcast_id)
    assert sorted(r.chat_id for r in rows) == sorted(BUILDING_1)
    broadcast = await _broadcast(app, broadcast_id)
    assert broadcast.status == BroadcastStatus.SENDING and broadcast.recipients == 4
    assert len(await _rows_to(app, "secretary", "broadcast.started")) == 1
    # A later round does not expand it again.
    assert await jobs.start_broadcasts(at + timedelta(minutes=1)) == 0
    assert len(await _bulk_rows(app)) == 4


async def test_scheduled_broadcast_resolves_its_recipients_when_it_starts(app: App) -> None:
    now = utcnow()
    at = now + timedelta(hours=1)
    broadcast_id = await _compose(app, now, at=at)
    resident = await _user_id(app, "resident-2")
    async with app.db.transaction() as session:
        user = await session.get(User, resident)
        assert user is not None
        user.notices_off_at = now  # unsubscribes before it starts
    assert await _jobs(app).start_broadcasts(at) == 1
    rows = await _bulk_rows(app, broadcast_id)
    assert sorted(r.chat_id for r in rows) == sorted(BUILDING_1 - {"resident-2"})
    assert (await _broadcast(app, broadcast_id)).recipients == 3


async def test_operator_broadcast_without_a_sender_notifies_nobody(app: App) -> None:
    broadcast_id = await _compose(app, utcnow(), targets=["compound:SDDJ"])
    async with app.db.transaction() as session:
        others = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.broadcast_id.is_(None))
        )
    assert others == 0
    assert (
        len(await _bulk_rows(app, broadcast_id)) == (await _broadcast(app, broadcast_id)).recipients
    )


# -- crash recovery ------------------------------------------------------------------------


async def test_broadcast_resumes_after_a_worker_dies_holding_a_bulk_batch(app: App) -> None:
    clock = Clock()
    broadcast_id = await _compose(app, clock.now, targets=["compound:SDDJ"])
    rows = await _bulk_rows(app, broadcast_id)
    recipients = {r.chat_id for r in rows}
    assert len(rows) == len(recipients) > 20
    channel = RecordingChannel("web")
    policy = {"lease_seconds": 30, "bulk_batch_size": 10}
    dead = _worker(app, channel, clock, **policy)
    held = await dead.claim(Lane.BULK)
    assert len(held) == 10  # ... and the process dies: nothing sent, nothing recorded

    alive = _worker(app, channel, clock, **policy)
    assert await alive.drain() == len(rows) - 10
    progress = await _progress(app, broadcast_id)
    assert progress.queued == 10 and progress.sent == len(rows) - 10
    assert set(_notices(channel)).isdisjoint({r.chat_id for r in held})

    clock.advance(seconds=31)  # the dead worker's lease runs out
    assert await alive.drain() == 10
    notices = _notices(channel)
    assert set(notices) == recipients  # nobody lost
    assert all(n == 1 for n in notices.values())  # nobody twice
    progress = await _progress(app, broadcast_id)
    assert progress.settled and progress.sent == len(rows)


async def test_rows_a_dead_worker_sent_but_never_recorded_go_out_at_most_once_more(
    app: App,
) -> None:
    clock = Clock()
    broadcast_id = await _compose(app, clock.now, targets=["compound:SDDJ"])
    recipients = {r.chat_id for r in await _bulk_rows(app, broadcast_id)}
    channel = RecordingChannel("web")
    dead = _worker(app, channel, clock, lease_seconds=30, bulk_batch_size=10)
    held = await dead.claim(Lane.BULK)
    for row in held[:4]:  # sent, then killed before recording
        await channel.send(Outbound(row.id, row.chat_id, row.payload))

    alive = _worker(app, channel, clock, lease_seconds=30, bulk_batch_size=10)
    await alive.drain()
    clock.advance(seconds=31)
    await alive.drain()
    notices = _notices(channel)
    assert set(notices) == recipients
    assert all(1 <= n <= 2 for n in notices.values())
    twice = {chat for chat, n in notices.items() if n == 2}
    assert twice <= {r.chat_id for r in held[:4]}
    assert (await _progress(app, broadcast_id)).settled


# -- cancel and finish ---------------------------------------------------------------------


async def test_scheduled_broadcast_can_be_cancelled_and_then_never_starts(app: App) -> None:
    now = utcnow()
    at = now + timedelta(hours=1)
    secretary = await _user_id(app, "secretary")
    broadcast_id = await _compose(app, now, sender_id=secretary, at=at)
    async with app.db.transaction() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        assert await _service(app, session, now).cancel(broadcast, secretary)
    broadcast = await _broadcast(app, broadcast_id)
    assert broadcast.status == BroadcastStatus.CANCELLED
    assert broadcast.cancelled_by == secretary and broadcast.finished_at == now
    assert await _jobs(app).start_broadcasts(at + timedelta(hours=1)) == 0
    assert await _bulk_rows(app) == []
    async with app.db.transaction() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        assert not await _service(app, session, now).cancel(broadcast, secretary)  # twice: no


async def test_started_broadcast_cannot_be_cancelled(app: App) -> None:
    now = utcnow()
    broadcast_id = await _compose(app, now)
    async with app.db.transaction() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        assert not await _service(app, session, now).cancel(broadcast, None)
    broadcast = await _broadcast(app, broadcast_id)
    assert broadcast.status == BroadcastStatus.SENDING and broadcast.cancelled_by is None
    assert len(await _bulk_rows(app, broadcast_id)) == 4


async def test_finish_waits_for_every_row_to_settle_then_tells_the_sender(app: App) -> None:
    clock = Clock()
    secretary = await _user_id(app, "secretary")
    broadcast_id = await _compose(app, clock.now, sender_id=secretary, compound_id=await _sddj(app))
    channel = RecordingChannel("web")
    worker = _worker(app, channel, clock)
    clock.advance(seconds=1)  # the card is stamped due by the wall clock
    assert await worker.run_once(Lane.INTERACTIVE) == 1  # the sender's "started" card
    channel.fail_next(TransientFailure("timeout"), Unreachable("blocked"))
    assert await worker.run_once(Lane.BULK) == 4

    async def finish(now: datetime) -> bool:
        async with app.db.transaction() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            return await _service(app, session, now).finish_if_settled(broadcast)

    assert not await finish(clock.now)  # one row waits for its retry
    assert (await _broadcast(app, broadcast_id)).status == BroadcastStatus.SENDING
    assert await _rows_to(app, "secretary", "broadcast.finished") == []
    clock.advance(minutes=5)
    assert await worker.drain() == 1
    assert await finish(clock.now)
    broadcast = await _broadcast(app, broadcast_id)
    assert broadcast.status == BroadcastStatus.DONE and broadcast.finished_at == clock.now
    (finished,) = await _rows_to(app, "secretary", "broadcast.finished")
    assert finished.origin == f"broadcast:{broadcast_id}:done"
    assert finished.priority == Priority.INTERACTIVE
    assert "已送达 3" in finished.payload["text"] and "联系不上 1" in finished.payload["text"]
    assert (await _progress(app, broadcast_id)).as_dict() == {
        "recipients": 4,
        "queued": 0,
        "sent": 3,
        "failed": 0,
        "unreachable": 1,
    }
    # Once done, neither the service nor the scheduler finishes it again.
    assert not await finish(clock.now)
    assert await _jobs(app).finish_broadcasts(clock.now) == 0
    assert len(await _rows_to(app, "secretary", "broadcast.finished")) == 1
    await worker.drain()
    assert [p["key"] for p in channel.sent_to("secretary")] == [
        "broadcast.started",
        "broadcast.finished",
    ]


async def test_scheduler_finishes_settled_broadcasts(app: App) -> None:
    secretary = await _user_id(app, "secretary")
    broadcast_id = await _compose(app, utcnow(), sender_id=secretary)
    jobs = _jobs(app)
    assert await jobs.finish_broadcasts(utcnow()) == 0
    await app.worker.drain()
    assert await jobs.finish_broadcasts(utcnow()) == 1
    assert (await _broadcast(app, broadcast_id)).status == BroadcastStatus.DONE
    assert len(await _rows_to(app, "secretary", "broadcast.finished")) == 1


# -- quiz -----------------------------------------------------------------------------------


async def test_quiz_answer_is_recorded_once_per_person_and_question(app: App) -> None:
    broadcast_id = await _compose(
        app,
        utcnow(),
        kind=BroadcastKind.QUIZ,
        text="",
        questions=pick_questions("test-quiz"),
    )
    await app.worker.drain()
    channel = app.channels["web"]
    assert isinstance(channel, RecordingChannel)
    (opening,) = channel.sent_to("resident-1")
    assert opening["key"] == "quiz.question"
    first, second = (row[0]["data"] for row in opening["buttons"][:2])

    async def press(data: str) -> list[dict[str, Any]]:
        outcome = await app.handle(make_incoming("resident-1", button=data))
        return [s.payload for s in outcome.replies]

    await press(first)
    again = await press(second)  # a change of mind is not recorded
    assert "已经答过" in again[-1]["text"]
    async with app.db.transaction() as session:
        answers = (
            await session.scalars(select(QuizAnswer).where(QuizAnswer.broadcast_id == broadcast_id))
        ).all()
    assert len(answers) == 1 and answers[0].choice == 0


async def test_two_presses_at_once_record_one_quiz_answer(app: App) -> None:
    questions = pick_questions("test-quiz-race")
    broadcast_id = await _compose(
        app, utcnow(), kind=BroadcastKind.QUIZ, text="", questions=questions
    )
    await app.worker.drain()
    channel = app.channels["web"]
    assert isinstance(channel, RecordingChannel)
    (opening,) = channel.sent_to("resident-2")
    choices = [row[0]["data"] for row in opening["buttons"]]
    await asyncio.gather(
        *(app.handle(make_incoming("resident-2", button=data)) for data in choices[:2])
    )
    async with app.db.transaction() as session:
        rows = (
            await session.execute(
                select(QuizAnswer.question_id, func.count())
                .where(QuizAnswer.broadcast_id == broadcast_id)
                .group_by(QuizAnswer.question_id)
            )
        ).all()
    assert rows == [(questions[0], 1)]
