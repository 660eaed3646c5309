"""What a ``linli serve`` process does, and the rule for what only one process may do.

Roles: ``web`` (the web chat, the dashboard and the Telegram webhook or, in one process
at a time, Telegram long polling), ``worker`` (outbox delivery) and ``scheduler`` (SLA
escalation, reminders, auto-close, scheduled broadcasts). Any number of processes may
run ``web`` and ``worker``: updates and outbox rows are claimed through the database.
The scheduler and Telegram's long polling (Telegram answers a second ``getUpdates`` with
409 Conflict) run in one process at a time: every process that has the role waits as a
standby and tries to take an ``ExclusiveLock`` every ``standby_seconds``; the holder
checks that it still holds it as often and stands down when it does not. Should two
ever overlap for a moment (a holder cut off from the database notices within a check),
each scheduler job still takes a transaction-scoped advisory lock and claims cases with
``SKIP LOCKED``, so no case is escalated twice.

Usage::

    roles = parse_roles(["web", "worker"])
    await run_exclusively(exclusive_lock(db, "scheduler"), "scheduler", scheduler.run,
                          stop, standby_seconds=5)
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum

from bot.storage.exclusive import ExclusiveLock

log = logging.getLogger(__name__)


class ServeRole(StrEnum):
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"


ALL_ROLES = frozenset(ServeRole)


def parse_roles(values: Iterable[str]) -> frozenset[ServeRole]:
    """``["web", "worker,scheduler"]`` → the roles; empty means all of them."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    try:
        roles = frozenset(ServeRole(n) for n in names)
    except ValueError:
        known = ", ".join(r.value for r in ServeRole)
        raise ValueError(f"unknown role in {names}; roles are {known}") from None
    return roles or ALL_ROLES


async def run_exclusively(
    lock: ExclusiveLock,
    name: str,
    body: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
    *,
    standby_seconds: float,
) -> None:
    """Run ``body(until)`` only while this process holds ``lock``, until ``stop``.

    Standby: try the lock every ``standby_seconds``. Active: check it as often; when it
    is lost (or ``stop`` is set) set ``until``, wait for ``body`` to finish, release.
    """
    while not stop.is_set():
        try:
            acquired = await lock.try_acquire()
        except Exception:
            log.exception("%s: could not ask for the lock", name)
            acquired = False
        if not acquired:
            await _sleep_unless(stop, standby_seconds)
            continue
        log.info("%s: active in process %d", name, os.getpid())
        until = asyncio.Event()
        task = asyncio.create_task(body(until), name=f"{name}-active")
        try:
            while not stop.is_set() and not task.done():
                sleeper = asyncio.ensure_future(_sleep_unless(stop, standby_seconds))
                try:
                    await asyncio.wait({task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                if not task.done() and not stop.is_set() and not await lock.still_held():
                    log.warning("%s: lost the lock; standing by", name)
                    break
        finally:
            ended_by_itself = task.done() and not until.is_set()
            until.set()
            try:
                await task
            except Exception:
                log.exception("%s failed", name)
            await lock.release()
        log.info("%s: stood down in process %d", name, os.getpid())
        if ended_by_itself:  # a body that keeps failing must not spin
            await _sleep_unless(stop, standby_seconds)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
