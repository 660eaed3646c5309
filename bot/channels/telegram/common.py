"""What both Telegram adapters share: reading an update, rendering a reply, the send
contract, the polling loop. Each library module only wraps its own calls.

aiogram 3 and python-telegram-bot 22 both mirror the Bot API's field names
(``update.message.chat.id``, ``message.from_user``, ``callback_query.data`` …), so one
function reads the facts out of either library's ``Update`` object; everything
library-specific — building keyboards, calling methods, telling errors apart — lives in
``aiogram_channel.py`` and ``ptb_channel.py``.

Group chats (楼栋群): the bot speaks only when spoken to — a command, a mention of its
username, or a reply to one of its messages — and otherwise stays silent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from bot.channels.base import (
    Channel,
    Outbound,
    Rejected,
    RetryAfter,
    SendResult,
    Sent,
    TransientFailure,
)
from bot.core.events import Incoming
from bot.storage.files import Upload

log = logging.getLogger(__name__)

CHANNEL = "telegram"
POLL_TIMEOUT_SECONDS = 25
GROUP_MESSAGES_PER_MINUTE = 20
CAPTION_LIMIT = 1024  # characters of a photo's or a document's caption
FINISHED_KEPT = 10_000


@dataclass(frozen=True)
class TelegramOptions:
    token: str
    api_base: str = "https://api.telegram.org"


@dataclass(frozen=True)
class Bridge:
    """What an adapter needs from the rest of the program, as plain callables."""

    handle: Callable[[Incoming], Awaitable[Any]]
    save_image: Callable[[bytes], str]
    # A file sent "as a file": kept as a photo when it is an image, else as a document.
    save_upload: Callable[[bytes, str], Upload]
    read_file: Callable[[str], bytes]
    commands: Callable[[], list[tuple[str, str]]]
    # Handlers' private chats get a longer menu (待办, 登记情况): (chat id, commands).
    staff_menus: Callable[[], Awaitable[list[tuple[int, list[tuple[str, str]]]]]] | None = None
    # Native quiz polls: keep a sent poll's per-option answer data (poll id, chat id,
    # data), and find it again when a ``poll_answer`` names the poll. Without these
    # the adapter sends quiz questions as messages with buttons.
    remember_poll: Callable[[str, str, list[str]], Awaitable[None]] | None = None
    recall_poll: Callable[[str], Awaitable[list[str] | None]] | None = None


@dataclass(frozen=True)
class Keyboard:
    """Inline keyboard rows of (label, callback data or None, url or None)."""

    rows: tuple[tuple[tuple[str, str | None, str | None], ...], ...]


@dataclass(frozen=True)
class Rendered:
    text: str
    keyboard: Keyboard | None = None
    photo: str | None = None
    parse_mode: str | None = None
    document: tuple[str, str] | None = None  # (file store reference, name)


def render(payload: dict[str, Any], bot_username: str = "") -> Rendered:
    """A ``start`` button becomes a deep link that opens the private chat with the bot."""
    rows = tuple(
        tuple(
            (b["text"], None, f"https://t.me/{bot_username}?start={b['start']}")
            if b.get("start")
            else (b["text"], b.get("data") or None, b.get("url") or None)
            for b in row
        )
        for row in payload.get("buttons", ())
    )
    return Rendered(
        text=payload.get("text") or "",
        keyboard=Keyboard(rows) if rows else None,
        photo=payload.get("photo"),
        parse_mode=payload.get("parse_mode"),
        document=(doc["ref"], doc["name"]) if (doc := payload.get("document")) else None,
    )


@dataclass
class Facts:
    """The parts of an update the core needs, read from either library's object."""

    update_id: int
    chat_id: int
    chat_type: str
    user_id: int
    display_name: str
    text: str | None = None
    button: str | None = None
    callback_id: str | None = None
    photo_file_id: str | None = None
    document_file_id: str | None = None  # a file sent as a document: a photo or a PDF …
    document_name: str = ""
    addressed: bool = True  # in a group: a command, a mention or a reply to the bot
    poll_id: str | None = None  # a poll answer: which poll, which option
    poll_option: int | None = None


@dataclass(frozen=True)
class QuizPoll:
    question: str
    options: tuple[str, ...]
    correct: int
    explanation: str


def read_update(update: Any, bot_username: str) -> Facts | None:
    """None for update kinds the bot does not use (edits, poll states, member changes …)."""
    answer = getattr(update, "poll_answer", None)
    if answer is not None:
        user = getattr(answer, "user", None)
        if user is None or not answer.option_ids:
            return None  # an anonymous voter, or a retracted vote
        return Facts(
            update_id=update.update_id,
            chat_id=user.id,  # the bot sends quiz polls in private chats only
            chat_type="private",
            user_id=user.id,
            display_name=_name(user),
            poll_id=answer.poll_id,
            poll_option=answer.option_ids[0],
        )
    query = getattr(update, "callback_query", None)
    if query is not None:
        message = query.message
        if message is None or query.data is None:
            return None
        return Facts(
            update_id=update.update_id,
            chat_id=message.chat.id,
            chat_type=_chat_type(message.chat.type),
            user_id=query.from_user.id,
            display_name=_name(query.from_user),
            button=query.data,
            callback_id=query.id,
        )
    message = getattr(update, "message", None)
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    text = message.text if message.text is not None else message.caption
    photo = message.photo[-1].file_id if message.photo else None  # the largest size
    document = message.document
    if text is None and photo is None and document is None:
        return None
    facts = Facts(
        update_id=update.update_id,
        chat_id=message.chat.id,
        chat_type=_chat_type(message.chat.type),
        user_id=message.from_user.id,
        display_name=_name(message.from_user),
        text=text,
        photo_file_id=photo,
        document_file_id=document.file_id if document is not None else None,
        document_name=(document.file_name or "") if document is not None else "",
    )
    if facts.chat_type != "private":
        facts.text, facts.addressed = _addressed(message, text or "", bot_username)
    return facts


def _chat_type(value: Any) -> str:
    text = str(getattr(value, "value", value))
    return text.rsplit(".", 1)[-1].lower()


def _name(user: Any) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p)[:100]


def _addressed(message: Any, text: str, bot_username: str) -> tuple[str, bool]:
    """In a group: is the bot spoken to, and the text without the @mention."""
    mention = f"@{bot_username}" if bot_username else ""
    reply_to = getattr(message, "reply_to_message", None)
    to_bot = bool(
        reply_to is not None
        and reply_to.from_user is not None
        and reply_to.from_user.is_bot
        and (not bot_username or reply_to.from_user.username == bot_username)
    )
    stripped = text.strip()
    if stripped.startswith("/"):
        head = stripped.split(maxsplit=1)[0]
        target = head.partition("@")[2]
        return stripped, not target or target.lower() == bot_username.lower()
    if mention and mention.lower() in stripped.lower():
        start = stripped.lower().index(mention.lower())
        cleaned = (stripped[:start] + stripped[start + len(mention) :]).strip()
        return cleaned, True
    return stripped, to_bot


class TelegramChannel(Channel):
    """The library-independent half of a Telegram adapter.

    Receiving: ``on_update`` turns one library ``Update`` into an ``Incoming`` and calls
    the core; the polling loop and the webhook route (``bot.channels.telegram.webhook``)
    both end there. Sending: ``send`` renders the outbox payload and calls the
    library; ``classify`` maps the library's exceptions to the outbox's results.
    """

    name: ClassVar[str] = CHANNEL
    library: ClassVar[str]
    can_edit: ClassVar[bool] = True  # editMessageText, see ``send``

    def __init__(self, options: TelegramOptions) -> None:
        self.options = options
        self.bot_username = ""  # from getMe at start
        self.bridge: Bridge | None = None
        self._finished: dict[int, None] = {}  # recent update ids, oldest first
        self._waiters: dict[int, asyncio.Event] = {}
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._group_sends: dict[int, deque[float]] = defaultdict(deque)

    def bind(self, bridge: Bridge) -> None:
        self.bridge = bridge

    # -- library hooks ------------------------------------------------------
    @abstractmethod
    async def get_me_username(self) -> str: ...

    @abstractmethod
    async def get_updates(self, offset: int | None, timeout: int) -> list[Any]: ...

    @abstractmethod
    def parse(self, raw: dict[str, Any]) -> Any:
        """A webhook body → the library's Update object."""

    @abstractmethod
    async def feed(self, update: Any) -> None:
        """Run one update through the library's own dispatch (ends in ``on_update``);
        raises when the core could not store it, so the platform delivers it again."""

    @abstractmethod
    async def send_text(self, chat_id: int, rendered: Rendered) -> str: ...

    @abstractmethod
    async def send_photo(self, chat_id: int, data: bytes, rendered: Rendered) -> str: ...

    @abstractmethod
    async def send_document(
        self, chat_id: int, data: bytes, name: str, rendered: Rendered
    ) -> str: ...

    @abstractmethod
    async def send_quiz_poll(self, chat_id: int, poll: QuizPoll) -> tuple[str, str]:
        """sendPoll (type quiz, not anonymous) → (message id, poll id)."""

    @abstractmethod
    async def edit_text(self, chat_id: int, message_id: int, rendered: Rendered) -> None: ...

    @abstractmethod
    async def answer_callback(self, callback_id: str) -> None: ...

    @abstractmethod
    async def download(self, file_id: str) -> bytes: ...

    @abstractmethod
    async def set_commands(
        self, commands: list[tuple[str, str]], chat_id: int | None = None
    ) -> None:
        """The menu for everyone, or for one private chat when ``chat_id`` is given."""

    @abstractmethod
    async def set_webhook(self, url: str, secret: str) -> None: ...

    @abstractmethod
    async def delete_webhook(self) -> None: ...

    @abstractmethod
    def classify(self, exc: Exception) -> SendResult | None:
        """The outbox result for a library exception; None if it is not a send error."""

    # -- lifecycle ------------------------------------------------------------
    async def ready(self) -> None:  # noqa: B027 - optional hook
        """Whatever the library needs before its first call (the worker may send first)."""

    async def start(self) -> None:
        self.bot_username = await self.get_me_username()
        if self.bridge is not None:
            try:
                await self.set_commands(self.bridge.commands())
                menus = await self.bridge.staff_menus() if self.bridge.staff_menus else []
                for chat_id, commands in menus:
                    await self.set_commands(commands, chat_id)
            except Exception as exc:  # a menu is a convenience; never block start-up
                log.warning("setMyCommands failed: %s", exc)

    async def drain(self) -> None:
        """Wait for updates being handled (graceful shutdown)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def process(self, update: Any) -> None:
        """Handle one library ``Update`` to the end; raises if the core did not store it."""
        task = asyncio.ensure_future(self.feed(update))
        self._in_flight.add(task)
        try:
            await task
        finally:
            self._in_flight.discard(task)
        self._finished[update.update_id] = None
        if len(self._finished) > FINISHED_KEPT:
            del self._finished[next(iter(self._finished))]
        waiter = self._waiters.pop(update.update_id, None)
        if waiter is not None:
            waiter.set()

    async def wait_processed(self, update_id: int, timeout: float = 10.0) -> None:
        """Tests and benchmarks: until the update went through ``process``."""
        if update_id in self._finished:
            return
        waiter = self._waiters.setdefault(update_id, asyncio.Event())
        await asyncio.wait_for(waiter.wait(), timeout)

    # -- receiving ----------------------------------------------------------------
    async def on_update(self, update: Any) -> None:
        bridge = self.bridge
        assert bridge is not None, "bind() the channel to the core first"
        facts = read_update(update, self.bot_username)
        if facts is None or not facts.addressed:
            return  # not for us: acknowledged, nothing stored, nothing said
        if facts.poll_id is not None:
            facts.button = await self._poll_button(facts, bridge)
            if facts.button is None:
                return  # a poll we did not send, or one whose record is gone
        await bridge.handle(await self._incoming(facts, bridge))
        if facts.callback_id is not None:
            await self._answer_quietly(facts.callback_id)

    async def _poll_button(self, facts: Facts, bridge: Bridge) -> str | None:
        """A quiz poll answer is the press of that option's answer button."""
        if bridge.recall_poll is None or facts.poll_id is None or facts.poll_option is None:
            return None
        options = await bridge.recall_poll(facts.poll_id)
        if options is None or not 0 <= facts.poll_option < len(options):
            return None
        return options[facts.poll_option]

    async def _incoming(self, facts: Facts, bridge: Bridge) -> Incoming:
        photo = None
        document = None
        rejected = None
        sent_file = facts.photo_file_id or facts.document_file_id
        if sent_file is not None and facts.chat_type != "private":
            rejected = "group.private_only"  # never keep what people post in a group
        elif facts.photo_file_id is not None:
            try:
                photo = bridge.save_image(await self.download(facts.photo_file_id))
            except ValueError as exc:  # files.BadUpload: not an image, too big, empty
                rejected = getattr(exc, "reason", "files.not_an_image")
        elif facts.document_file_id is not None:
            try:
                data = await self.download(facts.document_file_id)
                upload = bridge.save_upload(data, facts.document_name)
                photo, document = upload.photo, upload.document
            except ValueError as exc:  # files.BadUpload: not a file we take, too big, empty
                rejected = getattr(exc, "reason", "files.not_a_document")
        return Incoming(
            channel=CHANNEL,
            chat_id=str(facts.chat_id),
            user_id=str(facts.user_id),
            update_id=str(facts.update_id),
            at=datetime.now(UTC),
            text=facts.text,
            button=facts.button,
            photo=photo,
            document=document,
            rejected_upload=rejected,
            display_name=facts.display_name,
            chat_type=facts.chat_type,
        )

    async def _answer_quietly(self, callback_id: str) -> None:
        try:
            await self.answer_callback(callback_id)
        except Exception as exc:  # the spinner stops by itself; the answer is in the outbox
            log.info("answerCallbackQuery failed: %s", exc)

    # -- polling ------------------------------------------------------------------
    async def poll(self, stop: asyncio.Event) -> None:
        """Long polling that confirms an update only after the core stored it.

        A batch is handled concurrently across chats but in order within a chat; the
        offset moves past a batch only when every update of it is stored, so a crash or
        a database outage means Telegram hands the same updates over again (and the
        core's dedupe makes that harmless).
        """
        await self.delete_webhook()
        offset: int | None = None
        delay = 1.0
        while not stop.is_set():
            fetch = asyncio.ensure_future(self.get_updates(offset, POLL_TIMEOUT_SECONDS))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
                break
            try:
                updates = fetch.result()
            except Exception as exc:
                log.warning("getUpdates failed (%s): %s", type(self._result(exc)).__name__, exc)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if not updates:
                continue
            if await self._handle_batch(updates, stop):
                offset = max(u.update_id for u in updates) + 1
        if offset is not None:
            try:  # confirm what was handled, so a restart does not fetch it again
                await self.get_updates(offset, 0)
            except Exception as exc:
                log.info("final getUpdates confirmation failed: %s", exc)

    async def _handle_batch(self, updates: list[Any], stop: asyncio.Event) -> bool:
        by_chat: dict[Any, list[Any]] = defaultdict(list)
        for update in updates:
            facts = read_update(update, self.bot_username)
            by_chat[facts.chat_id if facts else None].append(update)
        results = await asyncio.gather(
            *(self._handle_in_order(group, stop) for group in by_chat.values())
        )
        return all(results)

    async def _handle_in_order(self, updates: Iterable[Any], stop: asyncio.Event) -> bool:
        for update in updates:
            delay = 0.5
            while True:
                try:
                    await self.process(update)
                    break
                except Exception:
                    log.exception("update %s not stored; retrying", update.update_id)
                    if stop.is_set():
                        return False
                    await _sleep_or_stop(stop, delay)
                    delay = min(delay * 2, 10.0)
        return True

    # -- sending ------------------------------------------------------------------
    def _group_wait(self, chat_id: int) -> float | None:
        """Telegram allows about 20 messages a minute in one group: keep under it here
        rather than collect 429s. None when a message may go now (and counts it)."""
        now = time.monotonic()
        sent = self._group_sends[chat_id]
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= GROUP_MESSAGES_PER_MINUTE:
            return 60 - (now - sent[0]) + 0.05
        sent.append(now)
        return None

    async def send(self, message: Outbound) -> SendResult:
        try:
            chat_id = int(message.chat_id)
        except ValueError:
            return Rejected(f"not a Telegram chat id: {message.chat_id!r}")
        try:
            await self.ready()
            if not self.bot_username:
                self.bot_username = await self.get_me_username()
            if chat_id < 0 and (wait := self._group_wait(chat_id)) is not None:
                return RetryAfter(wait)
            rendered = render(message.payload, self.bot_username)
            edit_of = message.payload.get("edit_message_id")
            if edit_of:
                await self.edit_text(chat_id, int(edit_of), rendered)
                return Sent(str(edit_of))
            poll = message.payload.get("poll")
            if poll and chat_id > 0 and self.bridge and self.bridge.remember_poll:
                return Sent(await self._send_poll(chat_id, poll, rendered))
            if rendered.document:
                return await self._send_with_document(chat_id, rendered, rendered.document)
            if rendered.photo:
                assert self.bridge is not None
                try:
                    data = self.bridge.read_file(rendered.photo)
                except OSError as exc:
                    return Rejected(f"photo {rendered.photo} unreadable: {exc}")
                return Sent(await self._send_photo(chat_id, data, rendered))
            return Sent(await self.send_text(chat_id, rendered))
        except Exception as exc:
            result = self._result(exc)
            if result is None:
                raise
            return result

    async def _send_photo(self, chat_id: int, photo: bytes, rendered: Rendered) -> str:
        """A caption holds 1,024 characters: a longer text (a notice) goes as its own
        message right after the photo, with the buttons, and is the message kept."""
        if len(rendered.text) <= CAPTION_LIMIT:
            return await self.send_photo(chat_id, photo, rendered)
        await self.send_photo(chat_id, photo, Rendered(text=""))
        return await self.send_text(chat_id, rendered)

    async def _send_with_document(
        self, chat_id: int, rendered: Rendered, document: tuple[str, str]
    ) -> SendResult:
        """A message with a file. When the text fits a caption it is one sendDocument,
        delivered or not as a whole; otherwise the message (or photo) goes first and the
        file after it, and a failure in between sends the message again on retry."""
        assert self.bridge is not None
        ref, name = document
        try:
            data = self.bridge.read_file(ref)
            photo = self.bridge.read_file(rendered.photo) if rendered.photo else None
        except OSError as exc:
            return Rejected(f"file {ref} unreadable: {exc}")
        if photo is None and len(rendered.text) <= CAPTION_LIMIT:
            return Sent(await self.send_document(chat_id, data, name, rendered))
        if photo is not None:
            first = await self._send_photo(chat_id, photo, rendered)
        else:
            first = await self.send_text(chat_id, rendered)
        await self.send_document(chat_id, data, name, Rendered(text=""))
        return Sent(first)

    async def _send_poll(self, chat_id: int, poll: dict[str, Any], rendered: Rendered) -> str:
        """A quiz question as a native quiz poll: the lead (the verdict on the previous
        answer, or the campaign's opening) as a message, then the poll, whose answers are
        remembered as the presses of the options' buttons. A failure after the lead went
        out sends the lead again on retry; the poll itself is sent once it is recorded."""
        assert self.bridge is not None and self.bridge.remember_poll is not None
        if poll.get("lead"):
            await self.send_text(chat_id, Rendered(text=poll["lead"]))
        quiz = QuizPoll(
            question=poll["question"],
            options=tuple(poll["options"]),
            correct=int(poll["correct"]),
            explanation=poll.get("explanation", ""),
        )
        message_id, poll_id = await self.send_quiz_poll(chat_id, quiz)
        answers = [
            data
            for row in (rendered.keyboard.rows if rendered.keyboard else ())
            for _, data, _ in row
            if data
        ]
        await self.bridge.remember_poll(poll_id, str(chat_id), answers)
        return message_id

    def _result(self, exc: Exception) -> SendResult | None:
        """The library's reading of its exception; a bare socket error or timeout that
        the library let through is a network failure too."""
        result = self.classify(exc)
        if result is None and isinstance(exc, OSError | TimeoutError):
            return network_failure(exc)
        return result


def not_modified(description: str) -> bool:
    return "message is not modified" in description.lower()


def network_failure(exc: Exception) -> TransientFailure:
    return TransientFailure(f"{type(exc).__name__}: {exc}")


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
