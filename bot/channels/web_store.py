"""Storage of the web chat channel: the per-browser mailbox and invite-link sessions.

Kept apart from the aiohttp handlers so the channel's ``send`` (called by the outbox
worker) and the HTTP API share one definition of the mailbox.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import WebMessage, WebSession


class WebStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def deliver(self, outbox_id: int, chat_id: str, payload: dict[str, Any]) -> None:
        """Put a message in the mailbox; delivering the same outbox row twice is a no-op."""
        async with self.db.transaction() as session:
            stmt = self.db.insert(WebMessage).values(
                outbox_id=outbox_id, chat_id=chat_id, payload=payload
            )
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["outbox_id"]))

    async def messages_after(self, chat_id: str, after: int, limit: int = 200) -> list[WebMessage]:
        async with self.db.transaction() as session:
            rows = await session.scalars(
                select(WebMessage)
                .where(WebMessage.chat_id == chat_id, WebMessage.id > after)
                .order_by(WebMessage.id)
                .limit(limit)
            )
            return list(rows.all())

    async def open_session(self, invite_code: str) -> tuple[str, str]:
        """A new browser identity for an invite link: returns (chat_id, token)."""
        token = secrets.token_urlsafe(32)
        chat_id = f"w-{secrets.token_hex(6)}"
        async with self.db.transaction() as session:
            session.add(
                WebSession(token_hash=_hash(token), chat_id=chat_id, invite_code=invite_code)
            )
        return chat_id, token

    async def session_chat(self, token: str) -> str | None:
        async with self.db.transaction() as session:
            return await session.scalar(
                select(WebSession.chat_id).where(WebSession.token_hash == _hash(token))
            )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
