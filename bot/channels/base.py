"""The contract every channel adapter fulfils, and the values a send can end in.

Adapters translate; they never retry, sleep or decide. A send ends in one of the
``SendResult`` values and the outbox worker decides what happens next (retry later,
mark the user unreachable, give up).

Usage::

    class MyChannel(Channel):
        name = "my"
        async def send(self, message: Outbound) -> SendResult:
            ...
            return Sent(platform_message_id="42")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Outbound:
    """One outbox row as a channel sees it: where to, and the rendered payload."""

    id: int
    chat_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sent:
    platform_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """The platform asked us to slow down (HTTP 429 ``retry_after``)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The user blocked the bot or the chat is gone: do not try again."""

    reason: str


@dataclass(frozen=True, slots=True)
class TransientFailure:
    """Network error, 5xx: try again with backoff."""

    error: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """The platform refused this message for good (a 400): retrying cannot help."""

    error: str


SendResult = Sent | RetryAfter | Unreachable | TransientFailure | Rejected


class Channel(ABC):
    name: ClassVar[str]
    # Whether ``send`` understands ``"edit_message_id"`` in a payload (edit that message
    # instead of sending a new one). The worker then keeps cards current: see
    # ``OutboxWorker._refresh_previous_card``. Channels that cannot edit (the web chat)
    # get every card as a new message.
    can_edit: ClassVar[bool] = False

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections; the default channel needs none."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close connections."""

    @abstractmethod
    async def send(self, message: Outbound) -> SendResult: ...
