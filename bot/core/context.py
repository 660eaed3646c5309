"""Everything a handler may use while handling one update, inside one transaction.

Handlers read ``ctx.viewer`` and ``ctx.state``, query through ``ctx.session``, build
replies from catalogue keys and reach other people with ``ctx.notify`` (an outbox row
in the same transaction). They never commit, send or sleep.

Usage::

    async def show_me(event: Incoming, ctx: Context) -> list[Reply]:
        return [ctx.reply("me.summary", address=...)]
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import pack
from bot.core.catalog import Catalog
from bot.core.events import Incoming
from bot.core.flows import STEP_ACTION, Router
from bot.core.replies import Button, Reply
from bot.core.viewer import Viewer
from bot.outbox.enqueue import OutboxWriter


@dataclass(frozen=True)
class CoreConfig:
    """Settings the core and handlers need, without the runtime's Settings class."""

    max_text_length: int = 4000
    sla_scale: float = 1.0  # multiplies every SLA; a demo uses 0.001 to see escalation live
    timezone: str = "Asia/Shanghai"
    # Where images are kept (bot.storage.files.FileStore): a handler that draws a chart
    # stores it here and replies with its reference, like a photo a user uploaded.
    files_dir: str = "var/files"


@dataclass
class FlowState:
    """The conversation's position: flow, step, draft data and the step's button nonce."""

    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    nonce: str = ""
    expires_at: datetime | None = None
    changed: bool = False
    # The draft as loaded: a handler that edits ``data`` in place (appends a line to the
    # description) without saying ``changed`` still has its edit saved.
    original: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self.flow is not None

    @property
    def dirty(self) -> bool:
        return self.changed or self.data != self.original


def new_nonce() -> str:
    return secrets.token_urlsafe(6)[:6]


class Context:
    def __init__(
        self,
        *,
        session: AsyncSession,
        event: Incoming,
        viewer: Viewer,
        state: FlowState,
        catalog: Catalog,
        router: Router,
        outbox: OutboxWriter,
        now: datetime,
        config: CoreConfig,
    ) -> None:
        self.session = session
        self.event = event
        self.viewer = viewer
        self.state = state
        self.catalog = catalog
        self.router = router
        self.outbox = outbox
        self.now = now
        self.config = config
        # Set by the dispatcher for button presses: the arguments after the action name.
        self.args: list[str] = []

    # -- text ---------------------------------------------------------------
    def t(self, key: str, **params: object) -> str:
        return self.catalog.t(key, **params)

    def reply(
        self,
        key: str,
        *,
        buttons: tuple[tuple[Button, ...], ...] | list[list[Button]] = (),
        photo: str | None = None,
        **params: object,
    ) -> Reply:
        rows = tuple(tuple(row) for row in buttons if row)
        return Reply(self.t(key, **params), buttons=rows, photo=photo, key=key)

    # -- buttons ------------------------------------------------------------
    def button(self, text: str, action: str, *args: object) -> Button:
        """A button that runs a registered action wherever the conversation is."""
        return Button(text, pack(action, *args))

    def choice(self, text: str, value: object) -> Button:
        """A button that answers the current flow step; stale once the step moves on."""
        if not self.state.nonce:
            raise RuntimeError("choice buttons need an active flow step")
        return Button(text, pack(STEP_ACTION, self.state.nonce, value))

    # -- flow state ---------------------------------------------------------
    def start(self, flow: str, step: str, data: dict[str, Any] | None = None) -> None:
        self.state.flow = flow
        self.state.data = dict(data or {})
        self._enter(step)

    def goto(self, step: str) -> None:
        if not self.state.active:
            raise RuntimeError("goto outside a flow")
        self._enter(step)

    def finish(self) -> None:
        self.state.flow = None
        self.state.step = None
        self.state.data = {}
        self.state.nonce = ""
        self.state.expires_at = None
        self.state.changed = True

    def _enter(self, step: str) -> None:
        flow = self.router.flows[self.state.flow or ""]
        if step not in flow.steps:
            raise KeyError(f"flow {flow.name} has no step {step!r}")
        if step != self.state.step:
            self.state.nonce = new_nonce()
        self.state.step = step
        self.state.expires_at = self.now + flow.timeout
        self.state.changed = True

    # -- other people -------------------------------------------------------
    async def notify(self, user_id: int, reply: Reply) -> bool:
        """Queue a message to another user in this transaction; False if unreachable."""
        ref = await self.outbox.notify_user(user_id, reply, origin=self._origin)
        return ref is not None

    @property
    def _origin(self) -> str:
        return f"{self.event.channel}:{self.event.update_id}"[:80]
