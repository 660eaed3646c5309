"""GET /healthz (the database answers, DESIGN.md §5) and GET /readyz (readiness: the database
answers in time and its schema is at the migrations' head)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientConnectionError, ClientSession
from alembic.script import ScriptDirectory

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.config import Settings
from bot.observability.health import Readiness, code_heads
from bot.roles import ServeRole
from bot.storage.db import Database
from bot.storage.migrate import alembic_config, upgrade
from tests.conftest import make_app
from tests.factories import UNREACHABLE_DB, web_client


@pytest.fixture
async def unstarted(tmp_path: Path) -> AsyncIterator[App]:
    """An app that never reached its database (``start`` would fail)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=UNREACHABLE_DB,
        files_dir=str(tmp_path / "files"),
        ready_timeout_seconds=5,
    )
    app = App(settings, channels={"web": RecordingChannel("web")})
    yield app
    await app.close()


async def test_readyz_is_ready_when_the_database_answers_at_head(db: Database) -> None:
    client = await web_client(await make_app(db))
    try:
        response = await client.get("/readyz")
        assert response.status == 200 and await response.json() == {"ready": True}
        live = await client.get("/healthz")
        assert live.status == 200 and await live.json() == {"ok": True}
    finally:
        await client.close()


async def test_readyz_is_503_with_a_reason_when_the_database_is_unreachable(
    unstarted: App,
) -> None:
    client = await web_client(unstarted)
    try:
        response = await client.get("/readyz")
        body = await response.json()
        assert response.status == 503 and body["ready"] is False
        assert body["reason"].startswith("database unreachable")
    finally:
        await client.close()


async def test_healthz_is_503_while_the_database_is_unreachable(unstarted: App) -> None:
    client = await web_client(unstarted)
    try:
        response = await client.get("/healthz")
        assert response.status == 503 and await response.json() == {"ok": False}
    finally:
        await client.close()


async def test_readyz_is_503_until_the_migrations_reach_head(tmp_path: Path) -> None:
    (head,) = code_heads()
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(db, previous)
        verdict = await Readiness(db).check()
        assert not verdict.ready
        assert previous in verdict.reason and head in verdict.reason
        assert "linli db upgrade" in verdict.reason
        await upgrade(db)
        assert (await Readiness(db).check()).ready
    finally:
        await db.dispose()


async def test_readyz_is_503_when_the_database_answers_too_slowly(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def stuck(self: Readiness) -> frozenset[str]:
        await asyncio.sleep(5)
        return code_heads()

    monkeypatch.setattr(Readiness, "_database_heads", stuck)
    verdict = await Readiness(db, timeout_seconds=0.05).check()
    assert not verdict.ready and verdict.reason == "database did not answer within 0.05 s"


async def test_a_worker_only_process_answers_health_and_metrics_on_its_ops_port(
    db: Database, unused_tcp_port: int
) -> None:
    app = await make_app(db, ops_port=unused_tcp_port)
    stop = asyncio.Event()
    serving = asyncio.create_task(app.serve(stop, frozenset({ServeRole.WORKER})))
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/readyz") as ready:
                        assert ready.status == 200
                        break
                except ClientConnectionError:
                    await asyncio.sleep(0.05)
            async with http.get(f"{base}/metrics") as metrics:
                assert metrics.status == 200 and "linli_outbox" in await metrics.text()
            async with http.get(f"{base}/") as page:
                assert page.status == 404
    finally:
        stop.set()
        await serving
