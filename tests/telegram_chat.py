"""TelegramChat: the scenario driver over a Telegram adapter and the local Bot API emulator.

Every message goes the whole way: the emulated user's update is fetched by the adapter
over HTTP (long polling) or POSTed to the webhook route (webhook mode), runs through the
library's dispatch into the core, and the replies travel outbox → delivery worker →
adapter → ``sendMessage`` on the emulator. What a test gets back is what the user's
Telegram shows (text, inline buttons), with the catalogue key looked up from the
outbox row the message was sent from.

Demo personas are Telegram users here: their web identities become Telegram ones with
numeric ids, so the scenario tests run unchanged.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from bot.app import App
from bot.channels.telegram.common import TelegramChannel
from bot.channels.telegram.webhook import SECRET_HEADER, webhook_secret
from bot.core.replies import Button, Reply
from bot.emulator.server import Emulator
from bot.storage.files import StoredDocument
from bot.storage.models import ChannelIdentity, OutboxMessage, ProcessedUpdate
from tests.chat import ChatDriver

FIRST_USER_ID = 710_000
POLL_OPTION = "poll-option:"  # a test-side button standing for a vote in a native poll


class TelegramChat(ChatDriver):
    channel = "telegram"

    def __init__(self, app: App, emulator: Emulator, mode: str) -> None:
        super().__init__(app)
        assert app.telegram is not None
        self.telegram: TelegramChannel = app.telegram
        self.emulator = emulator
        self.world = emulator.world
        self.mode = mode
        self.ids: dict[str, int] = {}
        self._next_id = itertools.count(FIRST_USER_ID)
        self._sent: dict[str, dict[str, Any]] = {}  # test update id → the raw update
        self._stop = asyncio.Event()
        self._polling: asyncio.Task[None] | None = None
        self._server: TestServer | None = None
        self._http: ClientSession | None = None
        self.webhook_url = ""

    async def open(self) -> None:
        await self._adopt_personas()
        await self.telegram.start()
        if self.mode == "polling":
            self._polling = asyncio.create_task(self.telegram.poll(self._stop))
        else:
            self._server = TestServer(self.app.web_app())
            await self._server.start_server()
            self.webhook_url = str(self._server.make_url(self.app.settings.telegram_webhook_path))
            await self.telegram.set_webhook(self.webhook_url, self.secret)
            self._http = ClientSession()

    async def close(self) -> None:
        self._stop.set()
        if self._polling is not None:
            await self._polling
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            await self._server.close()
        await self.telegram.stop()
        await self.emulator.stop()
        await super().close()

    @property
    def secret(self) -> str:
        settings = self.app.settings
        return webhook_secret(settings.telegram_token, settings.telegram_webhook_secret)

    # -- people -----------------------------------------------------------------
    def platform_id(self, user: str) -> str:
        return str(self.tg(user))

    def tg(self, user: str) -> int:
        if user not in self.ids:
            self.ids[user] = next(self._next_id)
            self.world.add_user(self.ids[user], first_name=user)
        return self.ids[user]

    async def _adopt_personas(self) -> None:
        """The seeded personas' web accounts become Telegram accounts."""
        async with self.app.db.transaction() as session:
            names = list(
                await session.scalars(
                    select(ChannelIdentity.external_id).where(ChannelIdentity.channel == "web")
                )
            )
            for name in names:
                tg = str(self.tg(name))
                await session.execute(
                    update(ChannelIdentity)
                    .where(ChannelIdentity.channel == "web", ChannelIdentity.external_id == name)
                    .values(channel="telegram", external_id=tg, chat_id=tg)
                )

    # -- sending as a user --------------------------------------------------------
    async def send(
        self,
        user: str,
        *,
        text: str | None = None,
        button: str | None = None,
        update_id: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
    ) -> list[Reply]:
        tg = self.tg(user)
        if update_id is not None and update_id in self._sent:
            raw = self._sent[update_id]
            await self._redeliver(raw)
        else:
            if photo is not None:
                raw = self.world.user_sends_photo(tg, photo, caption=text)
            elif document is not None:
                raw = self.world.user_sends_document(tg, document[1], document[0], caption=text)
            elif button is not None and button.startswith(POLL_OPTION):
                poll_id, _, option = button.removeprefix(POLL_OPTION).rpartition(":")
                raw = self.world.user_answers_poll(tg, poll_id, int(option))
            elif button is not None:
                raw = self.world.user_presses(tg, tg, self._message_with(tg, button), button)
            else:
                raw = self.world.user_says(tg, text or "")
            if update_id is not None:
                self._sent[update_id] = raw
            await self.telegram.wait_processed(raw["update_id"])
        return await self._replies_to(raw["update_id"])

    def _message_with(self, chat: int, data: str) -> int:
        """The message carrying the button. A forged button (a modified client) claims the
        latest message, or an old one the bot sent before this test began."""
        messages = self.world.bot_messages(chat)
        for message in reversed(messages):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                if any(b.get("callback_data") == data for b in row):
                    return int(message["message_id"])
        if not messages:
            return int(self.world.old_bot_message(chat, "（以前的消息）")["message_id"])
        return int(messages[-1]["message_id"])

    async def _redeliver(self, raw: dict[str, Any]) -> None:
        """Telegram hands the same update over again (webhook retry, lost confirmation)."""
        if self.mode == "webhook":
            assert self._http is not None
            async with self._http.post(
                self.webhook_url, json=raw, headers={SECRET_HEADER: self.secret}
            ) as response:
                assert response.status == 200, await response.text()
        else:
            await self.telegram.process(self.telegram.parse(raw))

    # -- what the user sees ------------------------------------------------------------
    async def _replies_to(self, update_id: int) -> list[Reply]:
        async with self.app.db.transaction() as session:
            refs = await session.scalar(
                select(ProcessedUpdate.reply_refs).where(
                    ProcessedUpdate.channel == "telegram",
                    ProcessedUpdate.update_id == str(update_id),
                )
            )
        if not refs:
            return []
        # Another conversation's concurrent drain may hold some of these rows (PostgreSQL
        # lets drains skip each other's claims): wait until every one is delivered.
        for _ in range(500):
            await self.deliver()
            async with self.app.db.transaction() as session:
                rows = (
                    await session.execute(
                        select(OutboxMessage.chat_id, OutboxMessage.platform_message_id)
                        .where(OutboxMessage.id.in_(refs))
                        .order_by(OutboxMessage.id)
                    )
                ).all()
            if all(message_id is not None for _, message_id in rows):
                break
            await asyncio.sleep(0.02)
        replies = []
        for chat_id, message_id in rows:
            assert message_id is not None, "a reply was not delivered to Telegram"
            message = self.world.messages[int(chat_id)][int(message_id)]
            replies.append(await self._reply(int(chat_id), message))
        return replies

    async def inbox(self, user: str) -> list[Reply]:
        chat = self.tg(user)
        return [await self._reply(chat, m) for m in self.world.bot_messages(chat)]

    async def _reply(self, chat: int, message: dict[str, Any]) -> Reply:
        async with self.app.db.transaction() as session:
            payload = await session.scalar(
                select(OutboxMessage.payload)
                .where(
                    OutboxMessage.channel == "telegram",
                    OutboxMessage.chat_id == str(chat),
                    OutboxMessage.platform_message_id == str(message["message_id"]),
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
        if "poll" in message:  # a native quiz poll: its options are what the user taps
            poll = message["poll"]
            options = tuple(
                (Button(o["text"], f"{POLL_OPTION}{poll['id']}:{i}"),)
                for i, o in enumerate(poll["options"])
            )
            return Reply(poll["question"], buttons=options, key=(payload or {}).get("key"))
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        buttons = tuple(
            tuple(Button(b["text"], b.get("callback_data") or b.get("url", "")) for b in row)
            for row in rows
        )
        text = message.get("text") or message.get("caption") or ""
        doc = message.get("document")
        document = StoredDocument(doc["file_id"], doc["file_name"]) if doc else None
        return Reply(text, buttons=buttons, document=document, key=(payload or {}).get("key"))

    async def fetch_document(self, document: StoredDocument) -> bytes:
        """What the user's Telegram client downloads: the file the bot uploaded."""
        return self.world.files[document.ref].data
