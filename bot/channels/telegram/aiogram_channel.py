"""Telegram through aiogram 3: the library's Bot for calls, its Dispatcher for updates.

Updates — from our polling loop, the webhook route or a benchmark — go through
``Dispatcher.feed_update``, so aiogram's own routing, filters and middlewares run as in
any aiogram bot; its two handlers only pass the update on to ``on_update``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiogram import Bot, Dispatcher, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PollAnswer,
    Update,
)

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

# aiogram reads every API answer through ``Response[<the method's result type>]``, and
# pydantic keeps such a parametrised model only while something refers to it: under
# load the garbage collector drops ``Response[Message]`` and the next send rebuilds its
# whole schema (about 6 ms; measured a hundred times in 2,000 sends by bench/pipeline.py).
# Holding one of each for the methods this adapter calls keeps that a dictionary hit.
_RESPONSE_TYPES = tuple(
    methods.Response[getattr(methods, name).__returning__]
    for name in (
        "AnswerCallbackQuery",
        "DeleteWebhook",
        "EditMessageText",
        "GetFile",
        "GetMe",
        "GetUpdates",
        "SendDocument",
        "SendMessage",
        "SendPhoto",
        "SendPoll",
        "SetMyCommands",
        "SetWebhook",
    )
)


class AiogramChannel(TelegramChannel):
    library: ClassVar[str] = "aiogram"

    def __init__(self, options: TelegramOptions, session: AiohttpSession | None = None) -> None:
        super().__init__(options)
        if session is None:
            server = TelegramAPIServer.from_base(options.api_base.rstrip("/"))
            session = AiohttpSession(api=server)
        self.bot = Bot(options.token, session=session)
        # Conversation state lives in linli's database, not in aiogram's FSM storage: its
        # middleware would only take a lock and build a context on every update.
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.dispatcher.message.register(self._on_message)
        self.dispatcher.callback_query.register(self._on_callback)
        self.dispatcher.poll_answer.register(self._on_poll_answer)

    async def _on_message(self, message: Message, event_update: Update) -> None:
        await self.on_update(event_update)

    async def _on_callback(self, query: CallbackQuery, event_update: Update) -> None:
        await self.on_update(event_update)

    async def _on_poll_answer(self, answer: PollAnswer, event_update: Update) -> None:
        await self.on_update(event_update)

    async def stop(self) -> None:
        await self.bot.session.close()

    # -- receiving ------------------------------------------------------------
    async def get_me_username(self) -> str:
        return (await self.bot.get_me()).username or ""

    async def get_updates(self, offset: int | None, timeout: int) -> list[Any]:
        return await self.bot.get_updates(
            offset=offset,
            timeout=timeout,
            allowed_updates=ALLOWED_UPDATES,
            request_timeout=timeout + 10,
        )

    def parse(self, raw: dict[str, Any]) -> Update:
        return Update.model_validate(raw, context={"bot": self.bot})

    async def feed(self, update: Update) -> None:
        await self.dispatcher.feed_update(self.bot, update)

    async def download(self, file_id: str) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
        except TelegramBadRequest as exc:  # e.g. "file is too big" (over 20 MB)
            raise BadUpload("files.document_too_big") from exc
        if file.file_path is None:
            raise BadUpload("files.empty")
        buffer = await self.bot.download_file(file.file_path)
        return buffer.read() if buffer is not None else b""

    # -- sending --------------------------------------------------------------
    @staticmethod
    def _markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
        if keyboard is None:
            return None
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=t, callback_data=d, url=u) for t, d, u in row]
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
            BufferedInputFile(data, filename="photo.jpg"),
            caption=rendered.text or None,
            reply_markup=self._markup(rendered.keyboard),
            parse_mode=rendered.parse_mode,
        )
        return str(message.message_id)

    async def send_document(self, chat_id: int, data: bytes, name: str, rendered: Rendered) -> str:
        message = await self.bot.send_document(
            chat_id,
            BufferedInputFile(data, filename=name),
            caption=rendered.text or None,
            reply_markup=self._markup(rendered.keyboard),
            parse_mode=rendered.parse_mode,
        )
        return str(message.message_id)

    async def send_quiz_poll(self, chat_id: int, poll: QuizPoll) -> tuple[str, str]:
        message = await self.bot.send_poll(
            chat_id,
            poll.question,
            options=list(poll.options),
            is_anonymous=False,
            type="quiz",
            correct_option_ids=[poll.correct],
            explanation=poll.explanation or None,
        )
        assert message.poll is not None
        return str(message.message_id), message.poll.id

    async def edit_text(self, chat_id: int, message_id: int, rendered: Rendered) -> None:
        await self.bot.edit_message_text(
            text=rendered.text,
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
        scope = BotCommandScopeChat(chat_id=chat_id) if chat_id is not None else None
        await self.bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands], scope=scope
        )

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def delete_webhook(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)

    def classify(self, exc: Exception) -> SendResult | None:
        match exc:
            case TelegramRetryAfter():
                return RetryAfter(float(exc.retry_after))
            case TelegramForbiddenError():
                return Unreachable(exc.message)
            case TelegramBadRequest() if not_modified(exc.message):
                return Sent()  # the card already shows this: nothing to change
            case TelegramBadRequest() | TelegramNotFound():
                return Rejected(exc.message)
            case TelegramAPIError():  # network, server errors and the rest: try again later
                return network_failure(exc)
        return None
