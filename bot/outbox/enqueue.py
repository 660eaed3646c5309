"""Writing outbox rows inside the caller's transaction.

A reply exists only if the transaction that caused it commits, and it is delivered
even if the process dies right after the commit: the worker finds the row. Buttons
are signed here for the recipient, so handlers never touch secrets.

Usage::

    writer = OutboxWriter(session, signer)
    ref = await writer.enqueue(channel="web", chat_id="resident-1",
                               audience_id="resident-1", reply=reply)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import ButtonSigner
from bot.core.replies import Reply
from bot.storage.models import ChannelIdentity, OutboxMessage, Priority


def audience_of(channel: str, external_id: str) -> str:
    return f"{channel}:{external_id}"


class OutboxWriter:
    def __init__(self, session: AsyncSession, signer: ButtonSigner) -> None:
        self._session = session
        self._signer = signer

    def signed_payload(self, reply: Reply, audience: str) -> dict[str, Any]:
        payload = reply.to_payload()
        for row in payload.get("buttons", ()):
            for button in row:
                if "data" in button:
                    button["data"] = self._signer.sign(button["data"], audience)
        return payload

    async def enqueue(self, **fields: Any) -> tuple[int, dict[str, Any]]:
        """One row now (``draft``'s fields): its id and the payload as sent."""
        row = self.draft(**fields)
        (ref,) = await self.insert(row)
        return ref, row["payload"]

    def draft(
        self,
        *,
        channel: str,
        chat_id: str,
        audience_id: str,
        reply: Reply,
        user_id: int | None = None,
        priority: int = Priority.INTERACTIVE,
        origin: str = "",
    ) -> dict[str, Any]:
        """The outbox row for ``reply`` with its buttons signed, for ``insert``."""
        return {
            "channel": channel,
            "chat_id": chat_id,
            "user_id": user_id,
            "payload": self.signed_payload(reply, audience_of(channel, audience_id)),
            "priority": priority,
            "origin": origin,
        }

    async def insert(self, *rows: dict[str, Any]) -> list[int]:
        """Rows from ``draft`` in one statement; their ids in the same order, so one
        chat's replies are sent in the order they were written."""
        if not rows:
            return []
        result = await self._session.execute(
            insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
            list(rows),
        )
        return list(result.scalars())

    async def notify_user(
        self,
        user_id: int,
        reply: Reply,
        *,
        priority: int = Priority.INTERACTIVE,
        origin: str = "",
    ) -> int | None:
        """Send to the channel the user used most recently; None if no channel reaches them."""
        identity = await self._session.scalar(
            select(ChannelIdentity)
            .where(ChannelIdentity.user_id == user_id, ChannelIdentity.unreachable_at.is_(None))
            .order_by(ChannelIdentity.last_seen_at.desc(), ChannelIdentity.id.desc())
            .limit(1)
        )
        if identity is None:
            return None
        ref, _ = await self.enqueue(
            channel=identity.channel,
            chat_id=identity.chat_id,
            audience_id=identity.external_id,
            reply=reply,
            user_id=user_id,
            priority=priority,
            origin=origin,
        )
        return ref
