"""The transactional outbox: every message the bot sends is first a row here.

Rows move ``pending → sending → sent | failed | unreachable`` (FixMyStreet's
send_state made explicit). ``lease_until`` lets another worker take over a row whose
worker died while sending.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


class Priority:
    """Lower sends first: replies and case notifications before bulk broadcasts."""

    INTERACTIVE = 0
    BULK = 5


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
        Index("ix_outbox_broadcast", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(SmallInteger, default=Priority.INTERACTIVE)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(80), default="")
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SentPoll(Base):
    """A native quiz poll the bot sent: its answers arrive as ``poll_answer`` updates
    naming only the poll, so the options' answer actions (signed button data, as the
    outbox row carried them) are kept here to turn an answer back into a press."""

    __tablename__ = "sent_poll"
    __table_args__ = (UniqueConstraint("channel", "poll_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    poll_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    options: Mapped[list[str]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
