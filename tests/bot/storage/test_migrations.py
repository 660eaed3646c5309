"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.storage.db import Database
from bot.storage.migrate import current_revision
from bot.storage.models import Base, Compound, utcnow
from tests.databases import head_revision


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    assert await current_revision(db) == head_revision()


async def test_timestamps_come_back_as_aware_utc(db: Database) -> None:
    moment = utcnow()
    async with db.transaction() as session:
        session.add(Compound(code="T1", name="测试", created_at=moment))
    async with db.transaction() as session:
        compound = await session.get(Compound, 1)
        assert compound is not None and compound.created_at == moment
        assert compound.created_at.utcoffset() is not None
