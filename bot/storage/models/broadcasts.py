"""Legal-education broadcasts (普法通知) and quiz campaigns (普法知识竞赛).

A broadcast is a row first and outbox rows later: composing one stores what to send,
to whom (``targets``, resolved only when it starts, so residents who register in the
meantime are included) and when. Starting it writes one bulk outbox row per
recipient in the same transaction that marks it started, so a crash can neither lose
nor double the expansion; delivery progress is then read off the outbox rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, JSONType, UTCDateTime, utcnow


class BroadcastKind(StrEnum):
    NOTICE = "notice"
    QUIZ = "quiz"


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for ``scheduled_at``; may still be cancelled
    SENDING = "sending"  # outbox rows written; delivering
    DONE = "done"  # every row settled (sent, failed or unreachable)
    CANCELLED = "cancelled"


class Broadcast(Base):
    __tablename__ = "broadcast"
    __table_args__ = (Index("ix_broadcast_due", "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=BroadcastKind.NOTICE)
    # The sender's compound; NULL for a county admin's or the command line's broadcast.
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[str | None] = mapped_column(String(200))
    # An attached file (file store reference) and the name residents see.
    document: Mapped[str | None] = mapped_column(String(200))
    document_name: Mapped[str | None] = mapped_column(String(200))
    # ["compound:SDDJ", "building:SDDJ-1", "role:building_leader", "all"]
    targets: Mapped[list[str]] = mapped_column(JSONType)
    questions: Mapped[list[str]] = mapped_column(JSONType, default=list)  # quiz question ids
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.SCHEDULED)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class QuizAnswer(Base):
    """One resident's answer to one question of one campaign: the unique key is what
    makes it "one answer per person per question" even under redelivered presses."""

    __tablename__ = "quiz_answer"
    __table_args__ = (UniqueConstraint("broadcast_id", "user_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcast.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(64))
    choice: Mapped[int] = mapped_column(SmallInteger)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
