"""The simulated Telegram side of a local Bot API: users, chats, messages, files, updates.

Telegram's behaviour that the adapters depend on is modelled here, without HTTP:

- updates get increasing ``update_id``s; ``getUpdates(offset)`` confirms and drops every
  update below ``offset`` and long-polls up to ``timeout`` seconds for new ones; while a
  webhook is set, getUpdates is refused with 409 and updates are POSTed to the webhook
  instead (``bot.emulator.server``), redelivered until the webhook answers 2xx;
- message ids are per chat; an edit that changes nothing is a 400 ``message is not
  modified``; callback data over 64 bytes is a 400 ``BUTTON_DATA_INVALID``;
- a user who blocked the bot makes every send to them a 403; a configured global rate
  (messages per second) and Telegram's per-group limit (20 per minute) make excess sends a
  429 with ``parameters.retry_after``.

Errors are raised as ``ApiError`` and turned into Telegram's JSON error answers by the
server. Tests and benchmarks drive the user side through methods here (``user_says``,
``user_presses``, ``user_sends_photo``) or through the server's ``/_emulator`` routes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

BOT_ID = 7000001
BOT_USERNAME = "linli_test_bot"
MAX_CALLBACK_DATA = 64
MAX_POLL_QUESTION = 300
MAX_POLL_EXPLANATION = 200
MAX_TEXT = 4096
CAPTION_LIMIT = 1024  # a photo's or a document's caption
GROUP_MESSAGES_PER_MINUTE = 20


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


def json_param(value: Any, what: str) -> Any:
    """A parameter that may arrive as JSON text (form and query encodings) or as a value
    already (a JSON body)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise bad_request(f"can't parse {what} JSON object") from None


def _scope_key(scope: Any) -> str:
    """The stored form of a ``BotCommandScope`` (absent: the default scope)."""
    parsed = json_param(scope, "scope") if scope else None
    return json.dumps(parsed or {"type": "default"}, sort_keys=True)


@dataclass
class Chat:
    id: int
    type: str  # private | group | supergroup
    title: str = ""
    first_name: str = ""
    username: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = self.first_name
            if self.username:
                out["username"] = self.username
        else:
            out["title"] = self.title
        return out


@dataclass
class StoredFile:
    file_id: str
    unique_id: str
    path: str
    data: bytes

    def to_json(self, width: int = 640, height: int = 480) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.unique_id,
            "file_size": len(self.data),
            "width": width,
            "height": height,
        }

    def document_json(self, file_name: str) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.unique_id,
            "file_name": file_name,
            "file_size": len(self.data),
        }


@dataclass
class RateLimit:
    """A token bucket: ``per_second`` tokens a second, bursts up to one second's worth."""

    per_second: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.per_second

    def take(self, now: float) -> int | None:
        """None when allowed; otherwise the whole seconds to wait (Telegram's retry_after)."""
        self.tokens = min(self.per_second, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.per_second))


class World:
    """Everything the emulated Telegram knows; one instance per emulator."""

    def __init__(self, token: str = "123:abc") -> None:
        self.token = token
        self.users: dict[int, Chat] = {}
        self.chats: dict[int, Chat] = {}
        self.blocked: set[int] = set()
        self.messages: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.sent_log: list[dict[str, Any]] = []  # every successful bot send, in order
        self.sent_times: list[float] = []  # time.monotonic() of each sent_log entry
        self.throttled = 0  # 429 answers given
        self.polls: dict[str, dict[str, Any]] = {}
        self._poll_voters: dict[str, set[int]] = defaultdict(set)
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.webhook: dict[str, Any] | None = None
        self.updates: deque[dict[str, Any]] = deque()
        self.errors: dict[int, int] = defaultdict(int)  # error code → how many answered
        self.calls: dict[str, int] = defaultdict(int)
        self.rate: RateLimit | None = None
        self._group_sends: dict[int, deque[float]] = defaultdict(deque)
        self._next_update = itertools.count(1)
        self._next_message: dict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._callbacks: dict[str, tuple[int, int]] = {}
        self._changed = asyncio.Event()
        self._sent_to: dict[int, asyncio.Event] = {}  # chats someone waits on (wait_sent)
        self.closing = False

    # -- configuration ----------------------------------------------------
    def set_rate_limit(self, per_second: float | None) -> None:
        self.rate = RateLimit(per_second) if per_second else None

    def add_user(self, user_id: int, first_name: str = "", username: str | None = None) -> Chat:
        user = Chat(
            user_id, "private", first_name=first_name or f"用户{user_id}", username=username
        )
        self.users[user_id] = user
        self.chats.setdefault(user_id, user)
        return user

    def add_group(self, chat_id: int, title: str) -> Chat:
        """A group anyone may write in (membership is not modelled: the bot never asks)."""
        group = Chat(chat_id, "group", title=title)
        self.chats[chat_id] = group
        return group

    def close(self) -> None:
        """Answer every waiting long poll now (the server is shutting down)."""
        self.closing = True
        self._changed.set()

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    # -- the user side: what people do in their Telegram app --------------
    def _user(self, user_id: int) -> Chat:
        return self.users.get(user_id) or self.add_user(user_id)

    def _from(self, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        out: dict[str, Any] = {
            "id": user.id,
            "is_bot": False,
            "first_name": user.first_name,
            "language_code": "zh-hans",
        }
        if user.username:
            out["username"] = user.username
        return out

    def _user_message(self, user_id: int, chat_id: int | None, **content: Any) -> dict[str, Any]:
        chat = self.chats[chat_id] if chat_id is not None else self._user(user_id)
        message_id = next(self._next_message[chat.id])
        message = {
            "message_id": message_id,
            "from": self._from(user_id),
            "chat": chat.to_json(),
            "date": int(time.time()),
            **content,
        }
        self.messages[chat.id][message_id] = message
        return message

    def push_update(self, body: dict[str, Any], *, queue: bool = True) -> dict[str, Any]:
        """The update, numbered; queued for getUpdates and the webhook unless ``queue`` is
        False (a load generator that POSTs updates to the bot's webhook itself)."""
        update = {"update_id": next(self._next_update), **body}
        if queue:
            self.updates.append(update)
            self._changed.set()
        return update

    def user_says(
        self, user_id: int, text: str, chat_id: int | None = None, *, queue: bool = True
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        mention = f"@{BOT_USERNAME}"
        if mention in text:
            content.setdefault("entities", []).append(
                {"type": "mention", "offset": text.index(mention), "length": len(mention)}
            )
        message = self._user_message(user_id, chat_id, **content)
        return self.push_update({"message": message}, queue=queue)

    def user_sends_photo(
        self, user_id: int, data: bytes, caption: str | None = None, chat_id: int | None = None
    ) -> dict[str, Any]:
        stored = self.store_file(data, "photos")
        sizes = [stored.to_json(90, 68), stored.to_json()]
        sizes[0] = {**sizes[0], "file_size": min(len(data), 1200)}
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self.push_update({"message": self._user_message(user_id, chat_id, **content)})

    def user_sends_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A file sent "as a file" (a PDF, a Word file, or an uncompressed photo)."""
        stored = self.store_file(data, "documents", file_name)
        content: dict[str, Any] = {"document": stored.document_json(file_name)}
        if caption:
            content["caption"] = caption
        return self.push_update({"message": self._user_message(user_id, chat_id, **content)})

    def user_sends_sticker(self, user_id: int) -> dict[str, Any]:
        """Something the bot does not handle (it must acknowledge it and move on)."""
        content = {
            "sticker": {
                "file_id": "sticker",
                "file_unique_id": "s",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        }
        return self.push_update({"message": self._user_message(user_id, None, **content)})

    def user_edits(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        original = self.messages[user_id][message_id]
        edited = {**original, "text": text, "edit_date": int(time.time())}
        return self.push_update({"edited_message": edited})

    def user_presses(
        self, user_id: int, chat_id: int, message_id: int, data: str, *, queue: bool = True
    ) -> dict[str, Any]:
        message = self.messages[chat_id].get(message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        query_id = secrets.token_hex(8)
        self._callbacks[query_id] = (chat_id, message_id)
        return self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._from(user_id),
                    "message": message,
                    "chat_instance": str(chat_id),
                    "data": data,
                }
            },
            queue=queue,
        )

    def user_answers_poll(self, user_id: int, poll_id: str, option: int) -> dict[str, Any]:
        """A vote in a poll the bot sent. Like Telegram, a quiz poll takes one answer per
        user and cannot be changed: a second vote raises."""
        poll = self.polls[poll_id]
        voters = self._poll_voters[poll_id]
        if poll["type"] == "quiz" and user_id in voters:
            raise ValueError(f"user {user_id} already answered quiz poll {poll_id}")
        if not 0 <= option < len(poll["options"]):
            raise ValueError(f"poll {poll_id} has no option {option}")
        voters.add(user_id)
        poll["options"][option]["voter_count"] += 1
        poll["total_voter_count"] += 1
        return self.push_update(
            {
                "poll_answer": {
                    "poll_id": poll_id,
                    "user": self._from(user_id),
                    "option_ids": [option],
                    "option_persistent_ids": [str(option)],
                }
            }
        )

    def old_bot_message(self, chat_id: int, text: str) -> dict[str, Any]:
        """A message the bot sent before anything was recorded (a previous deployment)."""
        return self._bot_message(self.chats[chat_id], text=text)

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """What the bot has in this chat now (edits applied), oldest first."""
        return [m for m in self.messages[chat_id].values() if m.get("from", {}).get("id") == BOT_ID]

    async def wait_sent(self, chat_id: int, more_than: int, timeout: float) -> bool:
        """Until the bot has more than ``more_than`` messages in the chat, or ``timeout``
        seconds; True if it has. Lets a simulated resident wait without polling."""
        deadline = time.monotonic() + timeout
        while len(self.bot_messages(chat_id)) <= more_than:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            event = self._sent_to.setdefault(chat_id, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), left)
            except TimeoutError:
                return False
            finally:
                self._sent_to.pop(chat_id, None)
        return True

    def store_file(self, data: bytes, folder: str, name: str = "photo.jpg") -> StoredFile:
        unique = secrets.token_hex(6)
        suffix = name.rpartition(".")[2] if "." in name else "bin"
        stored = StoredFile(
            f"F{unique}{secrets.token_hex(10)}", unique, f"{folder}/file_{unique}.{suffix}", data
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.path] = stored
        return stored

    # -- the Bot API side ---------------------------------------------------
    async def get_updates(
        self, offset: int | None, limit: int, timeout: float
    ) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            if offset is not None:
                while self.updates and self.updates[0]["update_id"] < offset:
                    self.updates.popleft()
            if self.updates or self.closing or time.monotonic() >= deadline:
                return list(itertools.islice(self.updates, max(1, min(limit, 100))))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                pass

    def _chat_for_send(self, chat_id: Any) -> Chat:
        try:
            key = int(chat_id)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self.chats.get(key)
        if chat is None:
            raise bad_request("chat not found")
        if chat.type == "private" and key in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _throttle(self, chat: Chat) -> None:
        now = time.monotonic()
        if self.rate is not None and (wait := self.rate.take(now)) is not None:
            self.throttled += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if chat.type != "private":
            sends = self._group_sends[chat.id]
            while sends and sends[0] <= now - 60:
                sends.popleft()
            if len(sends) >= GROUP_MESSAGES_PER_MINUTE:
                self.throttled += 1
                wait = max(1, math.ceil(60 - (now - sends[0])))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            sends.append(now)

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup in (None, ""):
            return None
        markup = json_param(markup, "reply keyboard markup")
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if rows is None:
            return markup
        for row in rows:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise bad_request('can\'t find field "text" or action in inline keyboard')
        return markup

    def _bot_message(self, chat: Chat, **content: Any) -> dict[str, Any]:
        message_id = next(self._next_message[chat.id])
        message = {
            "message_id": message_id,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "邻里", "username": BOT_USERNAME},
            "chat": chat.to_json(),
            "date": int(time.time()),
            **{k: v for k, v in content.items() if v is not None},
        }
        self.messages[chat.id][message_id] = message
        self.sent_log.append(message)
        self.sent_times.append(time.monotonic())
        waiting = self._sent_to.get(chat.id)
        if waiting is not None:
            waiting.set()
        return message

    def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup = self._check_markup(params.get("reply_markup"))
        chat = self._chat_for_send(params.get("chat_id"))
        self._throttle(chat)
        return self._bot_message(chat, text=text, reply_markup=markup)

    def send_photo(self, params: dict[str, Any], upload: bytes | None) -> dict[str, Any]:
        markup = self._check_markup(params.get("reply_markup"))
        chat = self._chat_for_send(params.get("chat_id"))
        self._check_caption(params.get("caption"))
        if upload is not None:
            stored = self.store_file(upload, "photos")
        else:
            stored = self.files.get(str(params.get("photo")))
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        self._throttle(chat)
        return self._bot_message(
            chat, photo=[stored.to_json()], caption=params.get("caption"), reply_markup=markup
        )

    @staticmethod
    def _check_caption(caption: Any) -> None:
        if caption is not None and len(str(caption)) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")

    def send_document(self, params: dict[str, Any], upload: bytes | None) -> dict[str, Any]:
        """sendDocument: an upload's name is the multipart file name, as on Telegram."""
        markup = self._check_markup(params.get("reply_markup"))
        chat = self._chat_for_send(params.get("chat_id"))
        caption = params.get("caption")
        self._check_caption(caption)
        if upload is not None:
            name = str(params.get("_filename") or "document")
            stored = self.store_file(upload, "documents", name)
        else:
            stored = self.files.get(str(params.get("document")))
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            name = stored.path.rpartition("/")[2]
        self._throttle(chat)
        return self._bot_message(
            chat, document=stored.document_json(name), caption=caption, reply_markup=markup
        )

    def send_poll(self, params: dict[str, Any]) -> dict[str, Any]:
        options = json_param(params.get("options"), "options")
        if not params.get("question") or not isinstance(options, list) or len(options) < 2:
            raise bad_request("poll must have at least 2 option")
        chat = self._chat_for_send(params.get("chat_id"))
        self._throttle(chat)
        texts = [o["text"] if isinstance(o, dict) else str(o) for o in options]
        poll = {
            "id": secrets.token_hex(8),
            "question": params["question"],
            "options": [
                {"persistent_id": str(i), "text": t, "voter_count": 0} for i, t in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": str(params.get("is_anonymous", "true")).lower() != "false",
            "type": params.get("type", "regular"),
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        if poll["type"] == "quiz":
            # Bot API 9.6 takes ``correct_option_ids``; older clients send the single id.
            raw_ids = params.get("correct_option_ids")
            ids = (
                json_param(raw_ids, "correct option ids")
                if raw_ids is not None
                else [params.get("correct_option_id", 0)]
            )
            correct = [int(i) for i in ids]
            if len(correct) != 1 or not 0 <= correct[0] < len(texts):
                raise bad_request("wrong correct option ID specified")
            poll["correct_option_ids"] = correct
            if params.get("explanation"):
                if len(params["explanation"]) > MAX_POLL_EXPLANATION:
                    raise bad_request("explanation is too long")
                poll["explanation"] = params["explanation"]
        if len(params["question"]) > MAX_POLL_QUESTION:
            raise bad_request("poll question length must not exceed 300")
        self.polls[poll["id"]] = poll
        return self._bot_message(chat, poll=poll)

    def _editable(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params.get("chat_id"))
        try:
            message = self.messages[chat.id][int(params.get("message_id", 0))]
        except (KeyError, ValueError):
            raise bad_request("message to edit not found") from None
        if message.get("from", {}).get("id") != BOT_ID:
            raise bad_request("message can't be edited")
        return message

    def edit_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise bad_request("message text is empty")
        markup = self._check_markup(params.get("reply_markup"))
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        message["text"] = text
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    def edit_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"))
        if message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return message

    def answer_callback(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._callbacks or query_id in self.callback_answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": str(params.get("show_alert", "false")).lower() == "true",
        }
        return True

    def set_commands(self, params: dict[str, Any]) -> bool:
        commands = json_param(params.get("commands"), "commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "")
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                raise bad_request("BOT_COMMAND_INVALID")
        self.commands[_scope_key(params.get("scope"))] = commands
        return True

    def delete_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(_scope_key(params.get("scope")), None)
        return True

    def commands_for(self, scope: dict[str, Any] | str | None = None) -> list[dict[str, str]]:
        return self.commands.get(_scope_key(scope), [])

    def get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    def set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self.delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("invalid webhook URL specified")
        secret = params.get("secret_token")
        if secret is not None and not (1 <= len(str(secret)) <= 256):
            raise bad_request("secret token is invalid")
        if str(params.get("drop_pending_updates", "false")).lower() == "true":
            self.updates.clear()
        self.webhook = {"url": url, "secret_token": secret}
        self._changed.set()
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        if str(params.get("drop_pending_updates", "false")).lower() == "true":
            self.updates.clear()
        self.webhook = None
        self._changed.set()
        return True

    def webhook_info(self) -> dict[str, Any]:
        return {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def next_for_webhook(self) -> dict[str, Any]:
        """The oldest undelivered update, waiting for one."""
        while not self.updates or self.webhook is None:
            self._changed.clear()
            await self._changed.wait()
        return self.updates[0]

    def webhook_delivered(self, update_id: int) -> None:
        if self.updates and self.updates[0]["update_id"] == update_id:
            self.updates.popleft()
