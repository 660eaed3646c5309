"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), Redis when
configured, the app, chats."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.channels.web import WebChannel
from bot.channels.web_store import WebStore
from bot.config import Settings
from bot.demo import seed_demo
from bot.emulator.server import Emulator
from bot.storage.db import Database
from tests.chat import ChatDriver, CoreChat, WebChat
from tests.databases import (
    SKIP_POSTGRES,
    PostgresSchema,
    SqliteTemplate,
    postgres_url,
    reachable_redis_url,
)
from tests.telegram_chat import TelegramChat

TEST_TOKEN = "123:abc"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def _postgres_schema() -> Iterator[PostgresSchema | None]:
    url = postgres_url()
    schema = PostgresSchema(url) if url else None
    yield schema
    if schema is not None:
        schema.drop()


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_template: SqliteTemplate,
    _postgres_schema: PostgresSchema | None,
) -> AsyncIterator[Database]:
    """A migrated, empty database on each backend."""
    if request.param == "postgres":
        if _postgres_schema is None:
            pytest.skip(SKIP_POSTGRES)
        database = await _postgres_schema.connect()
    else:
        database = await _sqlite_template.connect(tmp_path / "linli.db")
    try:
        yield database
    finally:
        await database.dispose()


def settings_for(db: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db.url,
        "secret_key": "test-secret-key-not-for-production",
        "web_trust_path": True,
        "outbox_lease_seconds": 30.0,
        "files_dir": tempfile.mkdtemp(prefix="linli-files-"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def make_app(db: Database, channel: str = "recording", **overrides: object) -> App:
    """An app on ``db`` with the demo compound seeded and a web channel of the given kind."""
    web = RecordingChannel("web") if channel == "recording" else WebChannel(WebStore(db))
    app = App(settings_for(db, **overrides), channels={"web": web}, db=db)
    await app.start(migrate=False)
    async with db.transaction() as session:
        await seed_demo(session)
    return app


@pytest.fixture
async def redis_url() -> str:
    """A reachable Redis (``LINLI_TEST_REDIS_URL``), or the test is skipped with the reason."""
    return await reachable_redis_url()


@pytest.fixture
async def app(db: Database) -> AsyncIterator[App]:
    yield await make_app(db)


# Telegram: aiogram over long polling, python-telegram-bot over the webhook, both end to
# end against the local Bot API emulator.
TELEGRAM_MODES = {"aiogram": "polling", "ptb": "webhook"}


@pytest.fixture(params=["core", "web", *TELEGRAM_MODES])
async def chat(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[ChatDriver]:
    """The same conversation driver over each channel: in-process core, HTTP web chat, and
    Telegram through each library."""
    if request.param == "core":
        application = await make_app(db, "recording")
        driver: ChatDriver = CoreChat(application)
    elif request.param == "web":
        application = await make_app(db, "web")
        driver = WebChat(application)
    else:
        emulator = Emulator(TEST_TOKEN)
        application = await make_app(
            db,
            "web",
            telegram_token=TEST_TOKEN,
            telegram_api_base=await emulator.start(),
            telegram_library=request.param,
            telegram_mode=TELEGRAM_MODES[request.param],
        )
        driver = TelegramChat(application, emulator, TELEGRAM_MODES[request.param])
    await driver.open()
    try:
        yield driver
    finally:
        await driver.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The scenario suite runs on every channel and on both databases, but not on every
    pairing: a Telegram adapter behaves the same over either database, and each database
    is exercised through the core and the web chat. Running Telegram × PostgreSQL too
    cost three minutes of CI and covered nothing the other pairings do not."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if params.get("chat") in TELEGRAM_MODES and params.get("db") == "postgres":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
