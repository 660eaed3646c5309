"""Liveness and readiness: may this process be left running, may it be sent traffic?

Liveness (``/healthz``) touches nothing: a process that answers HTTP is alive, and a
database outage must not make an orchestrator restart every linli process at once
(restarting does not bring the database back). Readiness (``/readyz``) is the
database: it answers ``SELECT 1`` within a short timeout and its schema is at the
migrations' head — a process started against an older schema (``linli db upgrade``
not yet run, or a rollback) would fail on the first update, so it must not get any.

Usage::

    readiness = Readiness(db, timeout_seconds=2)
    verdict = await readiness.check()       # Verdict(ready=False, reason="...")
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.storage.db import Database
from bot.storage.migrate import alembic_config


@dataclass(frozen=True)
class Verdict:
    ready: bool
    reason: str = ""


@functools.cache
def code_heads() -> frozenset[str]:
    """The head revisions of the migrations this code ships (read once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


class Readiness:
    def __init__(self, db: Database, *, timeout_seconds: float = 2.0) -> None:
        self.db = db
        self.timeout = timeout_seconds

    async def check(self) -> Verdict:
        try:
            heads = await asyncio.wait_for(self._database_heads(), self.timeout)
        except TimeoutError:
            return Verdict(False, f"database did not answer within {self.timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            return Verdict(False, f"database unreachable: {type(exc).__name__}")
        expected = code_heads()
        if heads != expected:
            found = ", ".join(sorted(heads)) or "none"
            return Verdict(
                False,
                f"database schema at {found}, code expects {', '.join(sorted(expected))}: "
                "run `linli db upgrade`",
            )
        return Verdict(True)

    async def database_answers(self) -> bool:
        """``SELECT 1`` within the timeout: DESIGN.md §5's ``/healthz`` contract."""
        try:
            return await asyncio.wait_for(self.db.ping(), self.timeout)
        except TimeoutError:
            return False

    async def _database_heads(self) -> frozenset[str]:
        def _read(connection: Connection) -> frozenset[str]:
            connection.execute(text("SELECT 1"))
            return frozenset(MigrationContext.configure(connection).get_current_heads())

        async with self.db.engine.connect() as conn:
            if self.db.dialect == "sqlite":  # a deferred BEGIN: never waits for writers
                await conn.execution_options(linli_read_only=True)
            return await conn.run_sync(_read)
