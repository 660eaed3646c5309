"""Locks that one process at a time holds for as long as it lives: "only one scheduler".

On PostgreSQL a session-level advisory lock on a connection kept for the purpose: the
server releases it the moment that connection ends, so a process killed with SIGKILL (or
cut off from the database) gives it up without anyone cleaning up, and a standby takes it
on its next try. On SQLite, which several processes share only on one machine, an
``flock`` on a file beside the database does the same (the kernel drops it with the
process). An in-memory SQLite database belongs to one process: its lock always succeeds.

The key is derived from the lock's name and the database's search path, so test runs in
separate schemas of one database never contend for each other's lock.

Usage::

    lock = exclusive_lock(db, "scheduler")
    if await lock.try_acquire():
        ...                                  # check ``await lock.still_held()`` now and then
        await lock.release()
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.storage.db import Database

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 10.0  # a holder whose database stops answering stands down


class ExclusiveLock(Protocol):
    async def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; never waits."""
        ...

    async def still_held(self) -> bool:
        """False once the lock may have gone to another process (connection lost)."""
        ...

    async def release(self) -> None: ...


def lock_key(name: str, namespace: str = "") -> int:
    """A signed 64-bit advisory-lock key for ``name`` within ``namespace``."""
    digest = hashlib.blake2b(f"linli:{namespace}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def exclusive_lock(db: Database, name: str) -> ExclusiveLock:
    if db.dialect == "postgresql":
        return PostgresLock(db, name)
    database = db.engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return ProcessLock()
    return FileLock(Path(f"{database}.{name}.lock"))


class PostgresLock:
    """``pg_try_advisory_lock`` on a connection of its own, in autocommit (never an idle
    open transaction), checked with a round trip."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.key = lock_key(name, db.search_path or "")
        self._conn: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = await self.db.engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await self._conn.scalar(text("SELECT 1"))
        except Exception as exc:  # the session, and with it the lock, is gone
            log.warning("lost the connection holding advisory lock %s: %s", self.key, exc)
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await self._conn.close()
            self._conn = None
        except Exception:  # closing the session releases the lock just as well
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:  # noqa: BLE001 - already broken; the server ends the session
                log.debug("invalidating a broken lock connection failed", exc_info=True)


class FileLock:
    """An exclusive ``flock`` on ``path``, for processes sharing one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def still_held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class ProcessLock:
    """For a database only this process can see: always ours."""

    def __init__(self) -> None:
        self._held = False

    async def try_acquire(self) -> bool:
        self._held = True
        return True

    async def still_held(self) -> bool:
        return self._held

    async def release(self) -> None:
        self._held = False
