"""Conversation state and processed updates: what makes the bot stateless in memory.

The state row doubles as the per-conversation lock: the dispatcher upserts it first in
every transaction, which row-locks it on PostgreSQL, so two updates of one user never
run at once even across worker processes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, JSONType, UTCDateTime, utcnow


class ConversationState(Base):
    __tablename__ = "conversation_state"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # '' for the main conversation; later a case number, so a handler can hold one
    # conversation per case.
    scope: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    nonce: Mapped[str] = mapped_column(String(16), default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessedUpdate(Base):
    """An update that has been handled; its replies' outbox ids answer a redelivery."""

    __tablename__ = "processed_update"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    reply_refs: Mapped[list[int]] = mapped_column(JSONType, default=list)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
