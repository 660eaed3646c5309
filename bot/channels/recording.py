"""RecordingChannel: keeps everything "sent" in memory, for tests and benchmarks.

It can also be told to fail: queue ``SendResult`` values with ``fail_next`` and the
next sends return them instead of ``Sent``, which is how the outbox worker's retry,
429 and 403 handling are tested without a network.

Usage::

    channel = RecordingChannel("web")
    channel.fail_next(TransientFailure("boom"))
    ...
    channel.sent_to("resident-1")  # payloads in delivery order
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from bot.channels.base import Channel, Outbound, SendResult, Sent


class RecordingChannel(Channel):
    name: ClassVar[str] = "recording"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name  # type: ignore[misc]
        self.sent: list[Outbound] = []
        self._scripted: deque[SendResult] = deque()

    def fail_next(self, *results: SendResult) -> None:
        self._scripted.extend(results)

    async def send(self, message: Outbound) -> SendResult:
        if self._scripted:
            return self._scripted.popleft()
        self.sent.append(message)
        return Sent(platform_message_id=str(len(self.sent)))

    def sent_to(self, chat_id: str) -> list[dict[str, Any]]:
        return [m.payload for m in self.sent if m.chat_id == chat_id]
