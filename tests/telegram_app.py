"""Building blocks for Telegram tests: an app wired to a running Bot API emulator, and
demo personas turned into Telegram users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from bot.app import App
from bot.channels.telegram.common import TelegramChannel
from bot.emulator.server import Emulator
from bot.emulator.world import World
from bot.storage.db import Database
from bot.storage.models import ChannelIdentity
from tests.conftest import TEST_TOKEN, make_app


@dataclass
class TelegramBed:
    """An app, its Telegram channel and the emulator, driven update by update."""

    app: App
    emulator: Emulator
    channel: TelegramChannel

    @property
    def world(self) -> World:
        return self.emulator.world

    async def feed(self, raw: dict[str, Any]) -> None:
        """Hand one update to the adapter (as polling or the webhook would) and deliver
        what it caused."""
        await self.channel.process(self.channel.parse(raw))
        await self.app.worker.drain()

    async def say(self, user: int, text: str, chat: int | None = None) -> dict[str, Any]:
        raw = self.world.user_says(user, text, chat)
        await self.feed(raw)
        return raw

    def texts(self, chat: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.world.bot_messages(chat)]

    async def count(self, model: type, *where: object) -> int:
        async with self.app.db.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


@asynccontextmanager
async def telegram_app(
    db: Database, library: str, **overrides: object
) -> AsyncIterator[tuple[App, Emulator]]:
    """The demo app with a Telegram channel of ``library`` talking to a fresh emulator
    (webhook mode: nothing polls unless a test starts it), started and stopped."""
    emulator = Emulator(TEST_TOKEN)
    base = await emulator.start()
    settings: dict[str, object] = {
        "telegram_token": TEST_TOKEN,
        "telegram_api_base": base,
        "telegram_library": library,
        "telegram_mode": "webhook",
        "outbox_backoff_base_seconds": 0.01,
        **overrides,
    }
    app = await make_app(db, "web", **settings)
    assert app.telegram is not None
    await app.telegram.start()
    try:
        yield app, emulator
    finally:
        await app.telegram.stop()
        await emulator.stop()
        await app.close()


async def adopt_persona(app: App, emulator: Emulator, persona: str, user: int, name: str) -> None:
    """The demo persona's web account becomes the Telegram account ``user``."""
    async with app.db.transaction() as session:
        identity = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_id == persona)
        )
        assert identity is not None
        identity.channel, identity.external_id, identity.chat_id = "telegram", str(user), str(user)
    emulator.world.add_user(user, name)
