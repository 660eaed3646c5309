"""The two callable shapes everything is wired with.

``CoreHandle`` is all an adapter knows of the core; ``Handler`` is what every
conversation step, command and button action is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.dispatcher import Outcome
    from bot.core.events import Incoming
    from bot.core.replies import Reply

CoreHandle: TypeAlias = "Callable[[Incoming], Awaitable[Outcome]]"
Handler: TypeAlias = "Callable[[Incoming, Context], Awaitable[list[Reply]]]"
