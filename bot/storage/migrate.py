"""Alembic, driven from async code: ``linli db upgrade`` and the demo both call this.

The migration scripts live beside this module, so an installed package carries them
and needs no alembic.ini in the working directory. On PostgreSQL an advisory lock makes
processes that start at once (``linli serve`` replicas) migrate one at a time.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.storage.db import Database
from bot.storage.exclusive import lock_key

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    cfg = alembic_config()

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            # Processes starting together migrate one after another: the second waits
            # here, then finds the schema at head and does nothing.
            key = lock_key("migrate", db.search_path or "")
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        await conn.run_sync(_run)


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_read)
