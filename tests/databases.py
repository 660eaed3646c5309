"""Test databases: a migrated SQLite file per test, PostgreSQL and Redis when configured.

PostgreSQL runs when ``LINLI_TEST_POSTGRES_URL`` is set (CI sets it) and must then be
reachable — an unreachable server fails the run instead of skipping. Each test run
gets its own schema (so the shared ``test`` database is never clobbered), migrated
once; each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.storage.db import Database
from bot.storage.migrate import upgrade
from bot.storage.models import Base

POSTGRES_ENV = "LINLI_TEST_POSTGRES_URL"
SKIP_POSTGRES = (
    f"PostgreSQL tests need {POSTGRES_ENV}, e.g. "
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test (CI sets it)"
)


class PostgresSchema:
    """One throw-away schema per test session, migrated on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.schema = f"linli_test_{uuid.uuid4().hex[:8]}"
        self.ready = False

    async def connect(self) -> Database:
        if not self.ready:
            admin = Database(self.url)
            try:
                async with admin.engine.begin() as conn:
                    await conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            except OSError as exc:
                pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {exc}")
            finally:
                await admin.dispose()
            db = self.database()
            await upgrade(db)
            await db.dispose()
            self.ready = True
        db = self.database()
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return db

    def database(self) -> Database:
        return Database(self.url, search_path=self.schema)

    def drop(self) -> None:
        if not self.ready:
            return

        async def _drop() -> None:
            admin = Database(self.url)
            async with admin.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            await admin.dispose()

        asyncio.run(_drop())


class SqliteTemplate:
    """Migrate once, copy the file for every test: fast and still the real schema."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        self.ready = False

    async def connect(self, target: Path) -> Database:
        if not self.ready:
            db = Database(f"sqlite+aiosqlite:///{self.path}")
            await upgrade(db)
            await db.dispose()  # the last connection to close checkpoints the WAL
            self.ready = True
        shutil.copy(self.path, target)
        return Database(f"sqlite+aiosqlite:///{target}")


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


REDIS_ENV = "LINLI_TEST_REDIS_URL"
SKIP_REDIS = f"Redis tests need {REDIS_ENV}, e.g. redis://127.0.0.1:6379/0 (CI sets it)"


async def reachable_redis_url() -> str:
    """``LINLI_TEST_REDIS_URL``: skips the test when unset, fails it when set but the
    server does not answer (as for PostgreSQL)."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(SKIP_REDIS)
    client = Redis.from_url(url, socket_connect_timeout=3)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.fail(f"{REDIS_ENV} is set but Redis is unreachable: {exc}")
    finally:
        await client.aclose()
    return url


def head_revision() -> str:
    """The newest migration, so tests need no edit when one is added."""
    from alembic.script import ScriptDirectory

    from bot.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def seed_demo_file(url: str) -> None:
    """A migrated database at ``url`` holding the demo compound: what the command-line
    tests run ``linli`` against."""
    from bot.demo import seed_demo

    db = Database(url)
    try:
        await upgrade(db)
        async with db.transaction() as session:
            await seed_demo(session)
    finally:
        await db.dispose()
