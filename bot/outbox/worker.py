"""The delivery worker: claims due outbox rows, hands them to channels, records results.

Claiming is safe with several worker processes: on PostgreSQL the claim query uses
``FOR UPDATE SKIP LOCKED``; on SQLite the whole claim runs under ``BEGIN IMMEDIATE``.
A row is claimable only when no earlier row of the same chat is still pending or
being sent, and no row of the chat is in flight under a live lease, so each chat receives
its messages in order and one at a time across workers. A claim is a
lease: if the worker dies mid-send, the row becomes claimable again when the lease
runs out — the only case in which a message can be sent twice.

Cards (a payload with ``"card"``, e.g. a handler's case card ``"case:123"``): on a
channel that can edit (``Channel.can_edit``: Telegram), delivering a card first edits
the chat's previous message of the same card — the latest earlier *sent* row of that
channel, chat and card — to the new card's content, then sends the new card as a new
message as always. The old card thus shows the current state and only buttons that
still apply, and the handler is still notified (edits are silent). Only that one
previous message is edited (one extra API call per card); older messages of the card
keep what they showed when they were superseded. The edit is best effort: a failed
edit (the message was deleted, the network hiccuped, the adapter raised) is logged and
the new card is sent anyway, so it never blocks or loses the card. Only a rate-limit
answer (429) to the edit puts the whole row back, to be retried — edit first again —
when the platform allows. Per-chat order holds because the earlier row is settled
before this one can be claimed; a retried or re-leased row edits again, which Telegram
answers "message is not modified" (counted as sent).

Usage::

    worker = OutboxWorker(db, {"web": web_channel}, OutboxPolicy())
    await worker.drain()            # tests: deliver everything due now
    await worker.run(stop_event)    # services: loop until stopped
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.channels.base import (
    Channel,
    Outbound,
    Rejected,
    RetryAfter,
    SendResult,
    Sent,
    TransientFailure,
    Unreachable,
)
from bot.outbox.pacing import Pacer
from bot.storage.db import Database
from bot.storage.group_commit import GroupCommit
from bot.storage.models import ChannelIdentity, OutboxMessage, OutboxStatus, Priority, utcnow

log = logging.getLogger(__name__)

CARD_LOOKBACK = 500


class Lane(StrEnum):
    """Interactive rows (priority 0) and bulk rows (broadcasts) are claimed and sent by
    separate loops."""

    INTERACTIVE = "interactive"
    BULK = "bulk"  # messages of a chat searched back for the previous card to edit


@dataclass(frozen=True)
class OutboxPolicy:
    batch_size: int = 100
    lease_seconds: float = 30.0
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0
    poll_seconds: float = 0.5
    concurrency: int = 16
    # Broadcast rows leased per round and sent at once: small, so a reply waits for few
    # of them at the rate limiter and a crash re-sends at most these.
    bulk_batch_size: int = 50
    bulk_concurrency: int = 8

    def backoff(self, attempts: int) -> timedelta:
        delay = min(self.backoff_base_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        policy: OutboxPolicy | None = None,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        pacer: Pacer | None = None,
        on_result: Callable[[str, SendResult], None] | None = None,
    ) -> None:
        self.db = db
        self.channels = channels
        self.policy = policy or OutboxPolicy()
        self.pacer = pacer or Pacer()
        self.on_result = on_result  # told each settled send (channel, result): metrics
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.clock = clock
        self._wakeups = {lane: asyncio.Event() for lane in Lane}
        # Replies settled at about the same moment share one transaction (see record).
        self._records: GroupCommit[tuple[OutboxMessage, SendResult], None] = GroupCommit(
            self._record_batch
        )

    def wake(self) -> None:
        """Called after a commit that enqueued something: deliver now, not at next poll."""
        for event in self._wakeups.values():
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Both lanes until ``stop``: replies and case notifications in one, broadcasts in
        the other, so a long broadcast never holds a reply back behind its queue."""
        log.info("outbox worker %s started", self.worker_id)
        await asyncio.gather(self._lane(stop, Lane.INTERACTIVE), self._lane(stop, Lane.BULK))
        log.info("outbox worker %s stopped", self.worker_id)

    async def _lane(self, stop: asyncio.Event, lane: Lane) -> None:
        wakeup = self._wakeups[lane]
        while not stop.is_set():
            try:
                handled = await self.run_once(lane)
            except Exception:
                log.exception("outbox worker round (%s) failed", lane.value)
                handled = 0
            if handled:
                continue
            wakeup.clear()
            waiter = asyncio.ensure_future(wakeup.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {waiter, stopper},
                timeout=self.policy.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            waiter.cancel()
            stopper.cancel()

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due; returns how many rows were handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            if not handled:
                return total
            total += handled
        return total

    async def run_once(self, lane: Lane | None = None) -> int:
        """One claim-and-deliver round of ``lane`` (both, interactive first, if None)."""
        if lane is None:
            return await self.run_once(Lane.INTERACTIVE) + await self.run_once(Lane.BULK)
        claimed_at = self.clock()
        claimed = await self.claim(lane)
        if not claimed:
            return 0
        bulk = lane is Lane.BULK
        semaphore = asyncio.Semaphore(
            self.policy.bulk_concurrency if bulk else self.policy.concurrency
        )
        # The lease is all that keeps another worker off these rows. A round slowed down
        # by the rate limiter or a 429 hold records what it sent before half the lease is
        # gone, and sends nothing once most of it is: such a row goes back to the queue.
        lease = timedelta(seconds=self.policy.lease_seconds)
        record_by, send_by = claimed_at + lease * 0.4, claimed_at + lease * 0.8
        unrecorded: list[tuple[OutboxMessage, SendResult]] = []
        returned: list[OutboxMessage] = []

        async def deliver(row: OutboxMessage) -> None:
            async with semaphore:
                await self.pacer.acquire(
                    row.channel,
                    row.chat_id,
                    bulk=bulk,
                    before_long_wait=lambda: self._record_unrecorded(unrecorded),
                )
                if self.clock() >= send_by:
                    returned.append(row)
                    return
                result = await self._send(row)
                if isinstance(result, RetryAfter):
                    self.pacer.hold(row.channel, result.seconds)
                if not bulk:  # a reply's status is settled as soon as it is known
                    await self.record(row, result)
                    return
                unrecorded.append((row, result))
                if self.clock() >= record_by:
                    await self._record_unrecorded(unrecorded)

        await asyncio.gather(*(deliver(row) for row in claimed))
        await self._record_unrecorded(unrecorded)
        if returned:
            await self._release(returned)
        return len(claimed)

    async def _record_unrecorded(self, unrecorded: list[tuple[OutboxMessage, SendResult]]) -> None:
        batch = list(unrecorded)
        unrecorded.clear()
        if batch:
            await self.record_many(batch)

    async def _release(self, rows: list[OutboxMessage]) -> None:
        """Rows this worker leased but did not send in time: due again at once."""
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([r.id for r in rows]),
                    OutboxMessage.claimed_by == self.worker_id,
                    OutboxMessage.status == OutboxStatus.SENDING,
                )
                .values(status=OutboxStatus.PENDING, lease_until=None)
            )

    async def claim(self, lane: Lane | None = None) -> list[OutboxMessage]:
        """Lease due rows of ``lane`` (any lane if None), oldest first per priority.

        A row waits while an earlier row of its chat is unsettled — of any priority for a
        bulk row, of its own priority for an interactive one: a reply keeps its order
        among replies but never waits for the broadcast queued before it.
        """
        now = self.clock()
        earlier = aliased(OutboxMessage)
        # Ids come from a sequence, so a transaction may commit a chat's row *after* a
        # later-numbered row of that chat was claimed: a row whose chat has a message of
        # its lane in flight (a live lease) waits too, so two workers never send one
        # chat's replies (or its broadcasts) at once.
        blocked_by_earlier = exists().where(
            earlier.channel == OutboxMessage.channel,
            earlier.chat_id == OutboxMessage.chat_id,
            earlier.id != OutboxMessage.id,
            or_(
                and_(
                    earlier.id < OutboxMessage.id,
                    earlier.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
                    earlier.priority <= OutboxMessage.priority,
                ),
                and_(
                    earlier.status == OutboxStatus.SENDING,
                    earlier.lease_until >= now,
                    earlier.priority == OutboxMessage.priority,  # same lane
                ),
            ),
        )
        due = or_(
            and_(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now
            ),
            and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
        )
        query = select(OutboxMessage).where(
            due, ~blocked_by_earlier, OutboxMessage.channel.in_(list(self.channels))
        )
        limit = self.policy.batch_size
        if lane is Lane.INTERACTIVE:
            query = query.where(OutboxMessage.priority <= Priority.INTERACTIVE)
        elif lane is Lane.BULK:
            query = query.where(OutboxMessage.priority > Priority.INTERACTIVE)
            limit = self.policy.bulk_batch_size
        query = query.order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit)
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxMessage)
        async with self.db.transaction() as session:
            rows = list((await session.scalars(query)).all())
            if not rows:
                return []
            lease = now + timedelta(seconds=self.policy.lease_seconds)
            # Checked again on the UPDATE's fresher view (READ COMMITTED): a chat's row
            # committed, or claimed by another worker, since the SELECT holds this one back.
            leased = set(
                await session.scalars(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([r.id for r in rows]), ~blocked_by_earlier)
                    .values(
                        status=OutboxStatus.SENDING, lease_until=lease, claimed_by=self.worker_id
                    )
                    .returning(OutboxMessage.id)
                )
            )
        return [r for r in rows if r.id in leased]

    async def _send(self, row: OutboxMessage) -> SendResult:
        channel = self.channels[row.channel]
        if channel.can_edit and isinstance(row.payload.get("card"), str):
            refreshed = await self._refresh_previous_card(channel, row)
            if isinstance(refreshed, RetryAfter):
                return refreshed
        try:
            return await channel.send(Outbound(row.id, row.chat_id, row.payload))
        except Exception as exc:  # an adapter bug or an unmapped error: retry, never lose
            log.exception("channel %s raised while sending outbox row %s", row.channel, row.id)
            return TransientFailure(f"{type(exc).__name__}: {exc}")

    async def _refresh_previous_card(self, channel: Channel, row: OutboxMessage) -> SendResult:
        """Edit the chat's previous message of ``row``'s card to ``row``'s content.

        Returns the edit's result (``Sent`` also when there was nothing to edit). Never
        raises: only a ``RetryAfter`` result makes the caller hold the new card back.
        """
        try:
            message_id = await self._previous_card_message(row)
            if message_id is None:
                return Sent()
            payload = {k: v for k, v in row.payload.items() if k != "photo"}
            payload["edit_message_id"] = message_id
            result = await channel.send(Outbound(row.id, row.chat_id, payload))
        except Exception as exc:  # an edit is a courtesy: never let it cost the new card
            log.exception("refreshing the previous card for outbox row %s failed", row.id)
            return TransientFailure(f"{type(exc).__name__}: {exc}")
        if not isinstance(result, Sent):
            log.info(
                "outbox row %s: previous card message %s not edited: %s", row.id, message_id, result
            )
        return result

    async def _previous_card_message(self, row: OutboxMessage) -> str | None:
        """The platform id of the latest earlier sent message of the same card and chat,
        looked for among the chat's last ``CARD_LOOKBACK`` messages before ``row`` (a walk
        back along the ``ix_outbox_chat`` index), so a case's first card costs the same in
        a chat with a long history. A card further up than that is left as it is."""
        recent = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.channel == row.channel,
                OutboxMessage.chat_id == row.chat_id,
                OutboxMessage.id < row.id,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(CARD_LOOKBACK)
        )
        async with self.db.transaction() as session:
            return await session.scalar(
                select(OutboxMessage.platform_message_id)
                .where(
                    OutboxMessage.id.in_(recent.scalar_subquery()),
                    OutboxMessage.status == OutboxStatus.SENT,
                    OutboxMessage.platform_message_id.is_not(None),
                    OutboxMessage.payload["card"].as_string() == row.payload["card"],
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )

    async def record(self, row: OutboxMessage, result: SendResult) -> None:
        """Settle one row now. Rows settled while another record commits wait and share
        the next commit: fifty replies sent at once cost two or three, not fifty."""
        await self._records.submit((row, result))

    async def _record_batch(
        self, take: Callable[[], list[tuple[OutboxMessage, SendResult]]]
    ) -> list[None]:
        results: list[tuple[OutboxMessage, SendResult]] = []
        async with self.db.transaction() as session:
            results = take()  # after the write lock: what settled meanwhile joins in
            await self._settle(session, results)
        self._report(results)
        return [None] * len(results)

    async def record_many(self, results: list[tuple[OutboxMessage, SendResult]]) -> None:
        """Settle rows in one transaction: a broadcast round's fifty results cost one
        commit, not fifty (a crash before it re-sends at most that round's rows)."""
        await self._record_batch(lambda: results)

    async def _settle(
        self, session: AsyncSession, results: list[tuple[OutboxMessage, SendResult]]
    ) -> None:
        """One executemany UPDATE per kind of result (sent, retry, failed…), whatever the
        number of rows; a row another worker took over meanwhile is left alone."""
        now = self.clock()
        kinds: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
        for row, result in results:
            values = self._settled(row, result, now)
            kinds[tuple(sorted(values))].append(
                {"k_id": row.id, **{f"v_{name}": value for name, value in values.items()}}
            )
        table = OutboxMessage.__table__
        for names, params in kinds.items():
            await session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("k_id"),
                    table.c.claimed_by == self.worker_id,
                    table.c.status == OutboxStatus.SENDING,
                )
                .values({name: bindparam(f"v_{name}") for name in names}),
                params,
            )
        unreachable = sorted(
            {
                (row.channel, row.chat_id)
                for row, result in results
                if isinstance(result, Unreachable)
            }
        )
        for channel, chat_id in unreachable:
            await session.execute(
                update(ChannelIdentity)
                .where(
                    ChannelIdentity.channel == channel,
                    ChannelIdentity.chat_id == chat_id,
                    ChannelIdentity.unreachable_at.is_(None),
                )
                .values(unreachable_at=now)
            )

    def _report(self, results: list[tuple[OutboxMessage, SendResult]]) -> None:
        for row, result in results:
            if self.on_result is not None:
                self.on_result(row.channel, result)
            if not isinstance(result, Sent):
                log.warning(
                    "outbox row %s to %s: %s",
                    row.id,
                    row.channel,
                    result,
                    extra={"outbox_id": row.id, "channel": row.channel},
                )

    def _settled(self, row: OutboxMessage, result: SendResult, now: datetime) -> dict[str, object]:
        values: dict[str, object] = {"lease_until": None}
        match result:
            case Sent(platform_message_id=message_id):
                values |= {"status": OutboxStatus.SENT, "sent_at": now}
                values["platform_message_id"] = message_id
            case RetryAfter(seconds=seconds):
                values |= {
                    "status": OutboxStatus.PENDING,
                    "next_attempt_at": now + timedelta(seconds=seconds),
                    "last_error": f"retry_after {seconds}",
                }
            case Unreachable(reason=reason):
                values |= {"status": OutboxStatus.UNREACHABLE, "last_error": reason}
            case Rejected(error=error):
                values |= {"status": OutboxStatus.FAILED, "last_error": error}
            case TransientFailure(error=error):
                attempts = row.attempts + 1
                values |= {"attempts": attempts, "last_error": error}
                if attempts >= self.policy.max_attempts:
                    values["status"] = OutboxStatus.FAILED
                else:
                    values["status"] = OutboxStatus.PENDING
                    values["next_attempt_at"] = now + self.policy.backoff(attempts)
        return values
