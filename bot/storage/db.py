"""The async database handle shared by the dispatcher, the outbox worker and the CLI.

One engine per process, sessions per transaction. On SQLite every transaction starts
with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes can fail
with SQLITE_BUSY when another connection wrote in between, whereas IMMEDIATE waits for
the write lock (busy_timeout) and so keeps per-conversation ordering on SQLite too.
SQLite has one writer anyway, so inside one process transactions queue on an asyncio
lock instead of polling SQLite's busy handler (which sleeps up to 100 ms a try and
made the latency tail seconds long under concurrency).

Usage::

    db = Database("sqlite+aiosqlite:///var/linli.db")
    async with db.transaction() as session:
        session.add(...)
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy import ColumnElement, and_, event, or_, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.dml import Insert


class Database:
    def __init__(self, url: str, *, search_path: str | None = None, echo: bool = False) -> None:
        connect_args: dict[str, Any] = {}
        if search_path and url.startswith("postgresql"):
            connect_args["server_settings"] = {"search_path": search_path}
        self.url = url
        self.search_path = search_path
        # A ping before each checkout is one more round trip per update; an embedded
        # SQLite file cannot go away under us, a PostgreSQL server can.
        self.engine: AsyncEngine = create_async_engine(
            url, echo=echo, connect_args=connect_args, pool_pre_ping=not url.startswith("sqlite")
        )
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            session = await stack.enter_async_context(self._sessions())
            await stack.enter_async_context(session.begin())
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction over one consistent view that never holds the write
        lock: an export streaming 100,000 cases must not stall the bot for its duration."""
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                await conn.execution_options(linli_read_only=True)
            else:
                await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                async with session.begin():
                    yield session

    def insert(self, table: Any) -> Insert:
        """An INSERT that supports ``on_conflict_do_*`` on both backends."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A snapshot reads in a deferred transaction: in WAL mode it sees one consistent
        # view and neither blocks nor waits for writers.
        read_only = conn.get_execution_options().get("linli_read_only")
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def dialect_insert(session: AsyncSession, table: Any) -> Insert:
    """``Database.insert`` for code that holds only a session (domain services)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def pairs_in(first: Any, second: Any, pairs: Iterable[tuple[str, str]]) -> ColumnElement[bool]:
    """``(first, second)`` is one of ``pairs``, written as one IN list per value of
    ``first`` (a batch's senders or update ids, almost always of one channel): plain SQL
    both databases answer from the (first, second) index."""
    grouped: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        grouped[a].add(b)
    return or_(*(and_(first == a, second.in_(sorted(bs))) for a, bs in sorted(grouped.items())))
