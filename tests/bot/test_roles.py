"""Roles of ``linli serve`` and the standby rule for the one-at-a-time roles."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.roles import ALL_ROLES, ServeRole, parse_roles, run_exclusively


def test_roles_are_parsed_from_repeated_or_comma_separated_names() -> None:
    assert parse_roles([]) == ALL_ROLES
    assert parse_roles(["web", "worker,scheduler"]) == ALL_ROLES
    assert parse_roles(["worker"]) == {ServeRole.WORKER}
    with pytest.raises(ValueError, match="roles are web, worker, scheduler"):
        parse_roles(["web,mailer"])


class SharedLock:
    """Locks over one "database": whoever asks first holds it until released or lost."""

    holder: object | None = None

    async def try_acquire(self) -> bool:
        if SharedLock.holder in (None, self):
            SharedLock.holder = self
            return True
        return False

    async def still_held(self) -> bool:
        return SharedLock.holder is self

    async def release(self) -> None:
        if SharedLock.holder is self:
            SharedLock.holder = None


async def test_a_standby_runs_the_role_only_after_the_holder_loses_its_lock() -> None:
    SharedLock.holder = None
    active: list[str] = []

    def body(name: str) -> Callable[[asyncio.Event], Awaitable[None]]:
        async def run(until: asyncio.Event) -> None:
            active.append(name)
            await until.wait()
            active.remove(name)

        return run

    stop = asyncio.Event()
    first, second = SharedLock(), SharedLock()
    tasks = [
        asyncio.create_task(run_exclusively(first, "a", body("a"), stop, standby_seconds=0.02)),
        asyncio.create_task(run_exclusively(second, "b", body("b"), stop, standby_seconds=0.02)),
    ]
    await asyncio.sleep(0.1)
    assert active == ["a"]
    SharedLock.holder = second  # "a"'s connection broke; the server let "b" have the lock
    await asyncio.sleep(0.2)
    assert active == ["b"]
    stop.set()
    await asyncio.gather(*tasks)
    assert active == [] and SharedLock.holder is None
