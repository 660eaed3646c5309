"""Broadcasts as a domain service: compose, start, cancel, progress — inside the
caller's transaction, for the chat flow, the command line and the scheduler alike.

Starting is the one heavy step: every recipient gets a bulk outbox row (priority
``BULK``, tagged with the broadcast id) in the same transaction that marks the
broadcast ``sending``. After a crash the rows are either all there or none are, and
the delivery worker — paced, retried, leased — takes it from there; progress is a
count of those rows by status. The sender hears when it starts and when the last row
settles (a card, so on Telegram the "started" message turns into the final one).

Usage::

    service = BroadcastService(session, writer, catalog, now)
    b = await service.compose(sender_id=..., compound_id=..., targets=["building:SDDJ-1"],
                              text="...", at=None)       # at=None: start now
    counts = await service.counts(b.id)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import pack
from bot.core.catalog import Catalog
from bot.core.replies import Button, Reply
from bot.outbox.enqueue import OutboxWriter, audience_of
from bot.storage.files import StoredDocument
from bot.storage.models import (
    Broadcast,
    BroadcastKind,
    BroadcastStatus,
    OutboxMessage,
    OutboxStatus,
    Priority,
)
from handlers import quiz
from handlers.broadcast_targets import Recipient, parse_targets, resolve_recipients

INSERT_CHUNK = 1000
CARD = "broadcast:{id}"
SETTLED = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)


@dataclass(frozen=True)
class Progress:
    recipients: int
    queued: int
    sent: int
    failed: int
    unreachable: int

    @property
    def settled(self) -> bool:
        return self.queued == 0

    def as_dict(self) -> dict[str, int]:
        return {
            "recipients": self.recipients,
            "queued": self.queued,
            "sent": self.sent,
            "failed": self.failed,
            "unreachable": self.unreachable,
        }


class BroadcastService:
    def __init__(
        self, session: AsyncSession, writer: OutboxWriter, catalog: Catalog, now: datetime
    ) -> None:
        self.session = session
        self.writer = writer
        self.catalog = catalog
        self.now = now

    async def compose(
        self,
        *,
        sender_id: int | None,
        compound_id: int | None,
        targets: list[str],
        text: str = "",
        photo: str | None = None,
        document: StoredDocument | None = None,
        at: datetime | None = None,
        kind: BroadcastKind = BroadcastKind.NOTICE,
        questions: list[str] | None = None,
        notify_sender: bool = True,
    ) -> Broadcast:
        """Store a broadcast; one due now starts in this same transaction.
        ``notify_sender=False`` when the sender is in the conversation that composed it
        and gets the card as the reply."""
        broadcast = Broadcast(
            kind=kind.value,
            compound_id=compound_id,
            text=text,
            photo=photo,
            document=document.ref if document else None,
            document_name=document.name if document else None,
            targets=[t.spec for t in parse_targets(targets)],
            questions=list(questions or []),
            status=BroadcastStatus.SCHEDULED.value,
            scheduled_at=at or self.now,
            created_by=sender_id,
            created_at=self.now,
            meta={},
        )
        self.session.add(broadcast)
        await self.session.flush()
        if broadcast.scheduled_at <= self.now:
            await self.start(broadcast, notify_sender=notify_sender)
        elif notify_sender:
            await self._tell_sender(broadcast, "broadcast.scheduled_note")
        return broadcast

    async def recipients(self, broadcast: Broadcast) -> list[Recipient]:
        return await resolve_recipients(
            self.session, parse_targets(broadcast.targets), broadcast.compound_id
        )

    async def start(self, broadcast: Broadcast, *, notify_sender: bool = True) -> int:
        """Write one bulk outbox row per recipient; returns how many."""
        recipients = await self.recipients(broadcast)
        origin = f"broadcast:{broadcast.id}"
        rows: list[dict[str, Any]] = []
        reply = self.message_for(broadcast)  # the same for all; only the signatures differ
        for recipient in recipients:
            audience = audience_of(recipient.channel, recipient.external_id)
            rows.append(
                {
                    "channel": recipient.channel,
                    "chat_id": recipient.chat_id,
                    "user_id": recipient.user_id,
                    "payload": self.writer.signed_payload(reply, audience),
                    "priority": Priority.BULK,
                    "status": OutboxStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": self.now,
                    "origin": origin,
                    "broadcast_id": broadcast.id,
                    "created_at": self.now,
                }
            )
        for start in range(0, len(rows), INSERT_CHUNK):
            await self.session.execute(insert(OutboxMessage), rows[start : start + INSERT_CHUNK])
        broadcast.status = BroadcastStatus.SENDING.value
        broadcast.started_at = self.now
        broadcast.recipients = len(rows)
        await self.session.flush()
        if notify_sender:
            await self._tell_sender(broadcast, "broadcast.started")
        return len(rows)

    def message_for(self, broadcast: Broadcast) -> Reply:
        t = self.catalog.t
        if broadcast.kind == BroadcastKind.QUIZ:
            return quiz.opening(self.catalog, broadcast)
        footer = t("broadcast.footer")
        return Reply(
            t("broadcast.notice", text=broadcast.text, footer=footer),
            photo=broadcast.photo,
            document=(
                StoredDocument(broadcast.document, broadcast.document_name or "")
                if broadcast.document
                else None
            ),
            key="broadcast.notice",
        )

    async def cancel(self, broadcast: Broadcast, actor_id: int | None) -> bool:
        """Only a broadcast that has not started can be cancelled: what is delivered
        cannot be recalled, and half a broadcast is worse than all of it."""
        if broadcast.status != BroadcastStatus.SCHEDULED:
            return False
        broadcast.status = BroadcastStatus.CANCELLED.value
        broadcast.cancelled_by = actor_id
        broadcast.finished_at = self.now
        await self.session.flush()
        return True

    async def progress(self, broadcast: Broadcast) -> Progress:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast.id)
            .group_by(OutboxMessage.status)
        )
        by_status = {status: count for status, count in rows}
        return Progress(
            recipients=broadcast.recipients,
            queued=by_status.get(OutboxStatus.PENDING, 0) + by_status.get(OutboxStatus.SENDING, 0),
            sent=by_status.get(OutboxStatus.SENT, 0),
            failed=by_status.get(OutboxStatus.FAILED, 0),
            unreachable=by_status.get(OutboxStatus.UNREACHABLE, 0),
        )

    async def finish_if_settled(self, broadcast: Broadcast) -> bool:
        progress = await self.progress(broadcast)
        if broadcast.status != BroadcastStatus.SENDING or not progress.settled:
            return False
        broadcast.status = BroadcastStatus.DONE.value
        broadcast.finished_at = self.now
        await self.session.flush()
        await self._tell_sender(broadcast, "broadcast.finished", progress)
        return True

    def status_reply(self, broadcast: Broadcast, progress: Progress, key: str) -> Reply:
        """The sender's card: what, to whom, and where delivery stands."""
        t = self.catalog.t
        buttons: list[tuple[Button, ...]] = [
            (Button(t("broadcast.btn_progress"), pack("bstatus", broadcast.id)),)
        ]
        if broadcast.status == BroadcastStatus.SCHEDULED:
            buttons.append((Button(t("broadcast.btn_cancel"), pack("bcancel", broadcast.id)),))
        if broadcast.kind == BroadcastKind.QUIZ:
            buttons.append((Button(t("quiz.btn_board"), pack("qboard", broadcast.id)),))
        return Reply(
            t(
                key,
                id=broadcast.id,
                kind=t(f"broadcast.kinds.{broadcast.kind}"),
                targets=describe_targets(self.catalog, broadcast.targets),
                status=t(f"broadcast.statuses.{broadcast.status}"),
                preview=preview_text(broadcast),
                **progress.as_dict(),
            ),
            buttons=tuple(buttons),
            key=key,
            card=CARD.format(id=broadcast.id),
        )

    async def _tell_sender(
        self, broadcast: Broadcast, key: str, progress: Progress | None = None
    ) -> None:
        if broadcast.created_by is None:
            return
        progress = progress or await self.progress(broadcast)
        await self.writer.notify_user(
            broadcast.created_by,
            self.status_reply(broadcast, progress, key),
            origin=f"broadcast:{broadcast.id}:{broadcast.status}",
        )


def preview_text(broadcast: Broadcast, limit: int = 60) -> str:
    text = broadcast.text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_targets(catalog: Catalog, specs: list[str]) -> str:
    """``["building:SDDJ-1", "role:building_leader"]`` → ``SDDJ 1栋、楼栋长``."""
    parts = []
    for target in parse_targets(specs):
        if target.kind == "all":
            parts.append(catalog.t("broadcast.target_all"))
        elif target.kind == "compound":
            parts.append(catalog.t("broadcast.target_compound", code=target.compound))
        elif target.kind == "building":
            parts.append(
                catalog.t("broadcast.target_building", code=target.compound, n=target.building)
            )
        else:
            parts.append(catalog.t(f"roles.{target.role}"))
    return "、".join(parts)


async def due_broadcasts(session: AsyncSession, now: datetime, limit: int) -> list[Broadcast]:
    return list(
        (
            await session.scalars(
                select(Broadcast)
                .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now)
                .order_by(Broadcast.scheduled_at)
                .limit(limit)
            )
        ).all()
    )


async def sending_broadcasts(session: AsyncSession, limit: int) -> list[Broadcast]:
    return list(
        (
            await session.scalars(
                select(Broadcast)
                .where(Broadcast.status == BroadcastStatus.SENDING)
                .order_by(Broadcast.id)
                .limit(limit)
            )
        ).all()
    )
