"""NullChannel: marks every message sent and sends nothing (staging, dry runs)."""

from __future__ import annotations

from typing import ClassVar

from bot.channels.base import Channel, Outbound, SendResult, Sent


class NullChannel(Channel):
    name: ClassVar[str] = "null"

    async def send(self, message: Outbound) -> SendResult:
        return Sent()
