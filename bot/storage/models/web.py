"""Web chat storage: the mailbox a browser polls, and session tokens.

The web chat is a pull channel: "sending" a message to a browser means putting it in
``web_message``; the unique ``outbox_id`` makes a re-sent outbox row a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class WebMessage(Base):
    __tablename__ = "web_message"
    __table_args__ = (Index("ix_web_message_chat", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    outbox_id: Mapped[int] = mapped_column(BigIntPK, unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebSession(Base):
    """A browser that joined through an invite link; only the token's hash is kept."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    invite_code: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AppSecret(Base):
    """Secrets generated on first start (button-signing key) so restarts keep them."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
