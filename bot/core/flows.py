"""Declarations the dispatcher routes by: commands, button actions and flows.

A *flow* is a multi-step conversation (registration, a report) whose current step is
stored in ``conversation_state``; a *command* is ``/name``; an *action* is a signed
button outside any flow (``me``, ``menu``). Each route says who may use it, and the
dispatcher checks that before calling the handler, so a handler never runs for
somebody without the right.

Usage::

    router = Router()
    router.command("me", show_me, needs=Needs.REGISTERED)
    router.flow(Flow("register", steps={"building": ask_building, ...}))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum

from bot.core.events import Incoming
from bot.core.types import Handler
from bot.core.viewer import Viewer
from bot.storage.models import Role

STEP_ACTION = "s"


class Needs(Enum):
    ANYONE = "anyone"
    REGISTERED = "registered"


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler
    needs: Needs | frozenset[Role] = Needs.ANYONE

    def allows(self, viewer: Viewer) -> bool:
        if self.needs is Needs.ANYONE:
            return True
        if self.needs is Needs.REGISTERED:
            return viewer.registered
        return viewer.has_role(*self.needs)


@dataclass(frozen=True)
class Flow:
    name: str
    steps: Mapping[str, Handler]
    timeout: timedelta = timedelta(hours=2)
    # The steps that take a document (a notice's attachment); anywhere else the
    # dispatcher answers a sent file itself, so no step has to think about one.
    document_steps: frozenset[str] = frozenset()


@dataclass
class Router:
    commands: dict[str, Route] = field(default_factory=dict)
    actions: dict[str, Route] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    fallback: Handler | None = None
    # Runs on every free text before the flow step or fallback; its replies come first
    # (emergency advice must precede any question).
    text_hook: Handler | None = None
    # Group chats: everything that is not a button goes here; buttons only for the
    # actions named in ``group_actions`` (read-only answers, never personal details).
    group: Handler | None = None
    group_actions: frozenset[str] = frozenset()
    # Pure CPU work on an update's text done before its transaction opens (the answers
    # are cached), so the database write lock is not held while it runs.
    prepare: Callable[[Incoming], None] | None = None
    # Loads what ``prepare`` needs (indexes, dictionaries: seconds of CPU) once, before a
    # server accepts traffic, so the first resident's message is not the one that waits.
    warm: Callable[[], None] | None = None

    def command(
        self, name: str, handler: Handler, needs: Needs | frozenset[Role] = Needs.ANYONE
    ) -> None:
        self.commands[name] = Route(name, handler, needs)

    def action(
        self, name: str, handler: Handler, needs: Needs | frozenset[Role] = Needs.ANYONE
    ) -> None:
        if name == STEP_ACTION or ":" in name:
            raise ValueError(f"reserved or invalid action name {name!r}")
        self.actions[name] = Route(name, handler, needs)

    def flow(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    def alias(self, word: str, command: str) -> None:
        """A plain word (``取消``) that means a command, so nobody has to type a slash."""
        self.aliases[word.strip().lower()] = command
