"""Telegram through python-telegram-bot 22: its Bot for calls, its Application for updates.

Updates go through ``Application.process_update`` with one ``TypeHandler``, so PTB's own
handler machinery runs as in any PTB bot. PTB hands a handler's exception to its error
handlers instead of raising it; the adapter keeps that exception and raises it after
``process_update`` returns, so an update the core could not store is delivered again
(webhook 500, or the polling offset left where it was).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, ClassVar

# Opt in to PTB 23's behaviour now: durations such as ``RetryAfter.retry_after`` are
# timedeltas (22.x warns on every 429 otherwise). Must be set before telegram is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import (  # noqa: E402
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    TelegramError,
)
from telegram.error import (
    RetryAfter as PtbRetryAfter,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.channels.base import Rejected, RetryAfter, SendResult, Sent, Unreachable
from bot.channels.telegram.common import (
    Keyboard,
    QuizPoll,
    Rendered,
    TelegramChannel,
    TelegramOptions,
    network_failure,
    not_modified,
)
from bot.storage.files import BadUpload

ALLOWED_UPDATES = ["message", "callback_query", "poll_answer"]
SEND_POOL = 32  # concurrent sends of the delivery worker


class PtbChannel(TelegramChannel):
    library: ClassVar[str] = "ptb"

    def __init__(self, options: TelegramOptions, bot: Bot | None = None) -> None:
        super().__init__(options)
        base = options.api_base.rstrip("/")
        self.bot = bot or Bot(
            options.token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=HTTPXRequest(connection_pool_size=SEND_POOL),
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=40),
        )
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder().bot(self.bot).updater(None).build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_any))
        self._failures: dict[int, BaseException] = {}
        self._initialized = False

    async def _on_any(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self.on_update(update)
        except Exception as exc:
            self._failures[update.update_id] = exc
            raise

    async def ready(self) -> None:
        if not self._initialized:
            await self.application.initialize()
            self._initialized = True

    async def stop(self) -> None:
        if self._initialized:
            await self.application.shutdown()  # shuts the bot's HTTP clients down too
            self._initialized = False

    # -- receiving ------------------------------------------------------------
    async def get_me_username(self) -> str:
        await self.ready()
        return self.bot.username or ""

    async def get_updates(self, offset: int | None, timeout: int) -> list[Any]:
        return list(
            await self.bot.get_updates(
                offset=offset,
                timeout=timeout,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=timeout + 10,
            )
        )

    def parse(self, raw: dict[str, Any]) -> Update:
        return Update.de_json(raw, self.bot)

    async def feed(self, update: Update) -> None:
        await self.ready()
        await self.application.process_update(update)
        failure = self._failures.pop(update.update_id, None)
        if failure is not None:
            raise failure

    async def download(self, file_id: str) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
        except BadRequest as exc:  # e.g. "file is too big" (over 20 MB)
            raise BadUpload("files.document_too_big") from exc
        return bytes(await file.download_as_bytearray())

    # -- sending --------------------------------------------------------------
    @staticmethod
    def _markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
        if keyboard is None:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(t, callback_data=d, url=u) for t, d, u in row]
                for row in keyboard.rows
            ]
        )

    async def send_text(self, chat_id: int, rendered: Rendered) -> str:
        message = await self.bot.send_message(
            chat_id,
            rendered.text,
            reply_markup=self._markup(rendered.keyboard),
            parse_mode=rendered.parse_mode,
        )
        return str(message.message_id)

    async def send_photo(self, chat_id: int, data: bytes, rendered: Rendered) -> str:
        message = await self.bot.send_photo(
            chat_id,
            data,
            caption=rendered.text or None,
            reply_markup=self._markup(rendered.keyboard),
            parse_mode=rendered.parse_mode,
        )
        return str(message.message_id)

    async def send_document(self, chat_id: int, data: bytes, name: str, rendered: Rendered) -> str:
        message = await self.bot.send_document(
            chat_id,
            data,
            filename=name,
            caption=rendered.text or None,
            reply_markup=self._markup(rendered.keyboard),
            parse_mode=rendered.parse_mode,
        )
        return str(message.message_id)

    async def send_quiz_poll(self, chat_id: int, poll: QuizPoll) -> tuple[str, str]:
        message = await self.bot.send_poll(
            chat_id,
            poll.question,
            list(poll.options),
            is_anonymous=False,
            type="quiz",
            correct_option_ids=[poll.correct],
            explanation=poll.explanation or None,
        )
        assert message.poll is not None
        return str(message.message_id), message.poll.id

    async def edit_text(self, chat_id: int, message_id: int, rendered: Rendered) -> None:
        await self.bot.edit_message_text(
            rendered.text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=self._markup(rendered.keyboard),
            parse_mode=rendered.parse_mode,
        )

    async def answer_callback(self, callback_id: str) -> None:
        await self.bot.answer_callback_query(callback_id)

    async def set_commands(
        self, commands: list[tuple[str, str]], chat_id: int | None = None
    ) -> None:
        scope = BotCommandScopeChat(chat_id) if chat_id is not None else None
        await self.bot.set_my_commands([BotCommand(c, d) for c, d in commands], scope=scope)

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    def classify(self, exc: Exception) -> SendResult | None:
        match exc:
            case PtbRetryAfter():
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                return RetryAfter(seconds)
            case Forbidden():
                return Unreachable(exc.message)
            case BadRequest() if not_modified(exc.message):
                return Sent()
            case BadRequest():
                return Rejected(exc.message)
            case TelegramError():  # network errors, timeouts and the rest: try again later
                return network_failure(exc)
        return None
