"""The web chat: an aiohttp app (page + JSON API) and the channel that feeds it.

The web chat is a pull channel. The outbox worker "sends" by putting the message in
the browser's mailbox (``WebStore``); the page polls ``GET …/messages?after=N``. A
POST answers at once with the replies it caused, each carrying ``ref`` (its outbox
id) so the page can skip them when polling returns them again.

In demo mode the user id in the path is trusted (the persona switcher); otherwise a
browser must hold the session cookie it got from an invite link (``/join/CODE``).

Usage::

    channel = WebChannel(WebStore(db))
    app = create_web_app(WebServices(handle=dispatcher.handle, ...), channel.store, trust_path=True)
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web

from bot.channels.base import Channel, Outbound, SendResult, Sent
from bot.channels.web_store import WebStore
from bot.core.dispatcher import Outcome
from bot.core.events import Incoming
from bot.storage.files import IMAGE_KINDS, MAX_DOCUMENT_BYTES, Upload
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("web_static")
COOKIE = "linli_session"
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_BODY = 256 * 1024  # JSON bodies; an upload is streamed and capped by _read_capped
_dumps = functools.partial(json.dumps, ensure_ascii=False)


class WebChannel(Channel):
    name: ClassVar[str] = "web"

    def __init__(self, store: WebStore) -> None:
        self.store = store

    async def send(self, message: Outbound) -> SendResult:
        await self.store.deliver(message.id, message.chat_id, message.payload)
        return Sent(platform_message_id=str(message.id))


@dataclass(frozen=True)
class WebServices:
    """What the web app needs from the rest of the program, as plain callables."""

    handle: Callable[[Incoming], Awaitable[Outcome]]
    personas: Callable[[], Awaitable[list[dict[str, str]]]]
    invite_valid: Callable[[str], Awaitable[bool]]
    errors: Callable[[str], str]
    poll_ms: int = 1500
    max_text: int = 4000
    public_https: bool = False
    # A sent file → a photo reference or a document (raises ValueError with ``reason``).
    save_upload: Callable[[bytes, str], Upload] | None = None
    file_path: Callable[[str], Path] | None = None


SERVICES = web.AppKey("services", WebServices)
STORE = web.AppKey("store", WebStore)
TRUST = web.AppKey("trust_path", bool)


def create_web_app(services: WebServices, store: WebStore, *, trust_path: bool) -> web.Application:
    app = web.Application(client_max_size=_MAX_BODY)
    app[SERVICES] = services
    app[STORE] = store
    app[TRUST] = trust_path
    app.router.add_get("/", _index)
    app.router.add_get("/api/config", _config)
    app.router.add_get("/api/chat/{user}/messages", _list_messages)
    app.router.add_post("/api/chat/{user}/messages", _post_message)
    app.router.add_post("/api/chat/{user}/photos", _post_upload)
    app.router.add_post("/api/chat/{user}/files", _post_upload)
    app.router.add_get("/files/{ref}", _file)
    app.router.add_get("/join/{code}", _join)
    app.router.add_static("/static/", STATIC, show_index=False)
    return app


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _config(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    trust = request.app[TRUST]
    user = None if trust else await _session_user(request)
    return _json(
        {
            "demo": trust,
            "user": user,
            "personas": await services.personas() if trust else [],
            "poll_ms": services.poll_ms,
            "max_text": services.max_text,
            "title": "邻里",
        }
    )


async def _join(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"].strip()
    services = request.app[SERVICES]
    if not _USER_ID.match(code) or not await services.invite_valid(code):
        raise _error(services, "web.invalid_invite", 404)
    chat_id, token = await request.app[STORE].open_session(code)
    response = web.HTTPFound(f"/?start={code}")
    # Behind a TLS proxy the request itself is plain HTTP; the public URL tells the truth.
    secure = request.secure or services.public_https
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Lax", secure=secure, max_age=3600 * 24 * 365
    )
    log.info("web session opened for invite (chat %s)", chat_id)
    raise response


async def _session_user(request: web.Request) -> str | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await request.app[STORE].session_chat(token)


async def _authorised_user(request: web.Request) -> str:
    services = request.app[SERVICES]
    user = request.match_info["user"]
    if not _USER_ID.match(user):
        raise _error(services, "web.bad_user", 400)
    if not request.app[TRUST] and await _session_user(request) != user:
        raise _error(services, "web.unauthorised", 401)
    return user


async def _list_messages(request: web.Request) -> web.Response:
    user = await _authorised_user(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise _error(request.app[SERVICES], "web.bad_request", 400) from None
    rows = await request.app[STORE].messages_after(user, max(after, 0))
    messages = [
        {
            "id": row.id,
            "ref": row.outbox_id,
            "text": row.payload.get("text", ""),
            "buttons": row.payload.get("buttons", []),
            "at": row.created_at.isoformat(),
            "key": row.payload.get("key"),
            "photo": _photo_url(row.payload),
            "document": _document(row.payload),
        }
        for row in rows
    ]
    return _json({"messages": messages})


async def _post_message(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await _authorised_user(request)
    body = await _json_body(request, services)
    text, button, client_id = body.get("text"), body.get("button"), body.get("client_id")
    if (text is None) == (button is None) or not isinstance(text or button or "", str):
        raise _error(services, "web.bad_request", 400)
    if client_id is not None and (not isinstance(client_id, str) or not 0 < len(client_id) <= 64):
        raise _error(services, "web.bad_request", 400)
    event = Incoming(
        channel="web",
        chat_id=user,
        user_id=user,
        update_id=client_id or uuid.uuid4().hex,
        at=utcnow(),
        text=text,
        button=button,
    )
    return _json(_replies(await services.handle(event)))


async def _post_upload(request: web.Request) -> web.Response:
    """Multipart upload: ``photo`` or ``file`` (an image is kept as a photo; any other
    file must be a document the file store accepts), optional ``caption``, ``client_id``.
    A refused file is answered 400 with the reason and reaches no conversation."""
    services = request.app[SERVICES]
    user = await _authorised_user(request)
    if services.save_upload is None or not request.content_type.startswith("multipart/"):
        raise _error(services, "web.bad_upload", 400)
    fields: dict[str, str] = {}
    data: bytes | None = None
    name = ""
    expect_photo = False
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise _error(services, "web.bad_upload", 400)
        if part.name in ("photo", "file"):
            data = await _read_capped(part, MAX_DOCUMENT_BYTES + 1)
            # Some clients (aiohttp's, curl's --form-string) percent-encode a name that
            # is not ASCII; browsers send it as UTF-8. Either way residents see the name.
            name = unquote(part.filename or "")
            expect_photo = part.name == "photo"
        elif part.name in ("caption", "client_id"):
            fields[part.name] = (await part.text())[:4000]
    if data is None:
        raise _error(services, "web.bad_upload", 400)
    try:
        upload = services.save_upload(data, name)
    except ValueError as exc:
        reason = getattr(exc, "reason", "web.bad_upload")
        if expect_photo and reason == "files.not_a_document":
            reason = "files.not_an_image"
        raise _error(services, reason, 400) from None
    if expect_photo and upload.photo is None:
        raise _error(services, "files.not_an_image", 400)
    event = Incoming(
        channel="web",
        chat_id=user,
        user_id=user,
        update_id=fields.get("client_id") or uuid.uuid4().hex,
        at=utcnow(),
        text=fields.get("caption") or None,
        photo=upload.photo,
        document=upload.document,
    )
    return _json(_replies(await services.handle(event)))


async def _read_capped(part: BodyPartReader, limit: int) -> bytes:
    """The part's bytes, stopping once past ``limit``: a too-big file is refused by the
    file store's size check without the whole of it ever held in memory."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit and (chunk := await part.read_chunk(64 * 1024)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _file(request: web.Request) -> web.StreamResponse:
    """A stored photo or document. Its name is the SHA-256 of its bytes: knowing it is
    the right. ``?name=`` gives a document the name it is saved under."""
    services = request.app[SERVICES]
    if not request.app[TRUST] and await _session_user(request) is None:
        raise _error(services, "web.unauthorised", 401)
    if services.file_path is None:
        raise web.HTTPNotFound()
    try:
        path = services.file_path(request.match_info["ref"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not path.exists():
        raise web.HTTPNotFound()
    headers = {"Cache-Control": "private, max-age=31536000"}
    if path.suffix.lstrip(".") not in IMAGE_KINDS:
        name = request.query.get("name") or path.name
        disposition = "inline" if path.suffix == ".pdf" else "attachment"
        headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(name)}"
    return web.FileResponse(path, headers=headers)


def _photo_url(payload: dict[str, Any]) -> str | None:
    return f"/files/{payload['photo']}" if payload.get("photo") else None


def _document(payload: dict[str, Any]) -> dict[str, str] | None:
    doc = payload.get("document")
    if not doc:
        return None
    return {"name": doc["name"], "url": f"/files/{doc['ref']}?name={quote(doc['name'])}"}


def _replies(outcome: Outcome) -> dict[str, Any]:
    replies = [
        {
            "ref": sent.ref,
            "text": sent.payload.get("text", ""),
            "buttons": sent.payload.get("buttons", []),
            "key": sent.payload.get("key"),
            "photo": _photo_url(sent.payload),
            "document": _document(sent.payload),
        }
        for sent in outcome.replies
    ]
    return {"replies": replies, "duplicate": outcome.duplicate}


async def _json_body(request: web.Request, services: WebServices) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _error(services, "web.bad_json", 400) from None
    if not isinstance(body, dict):
        raise _error(services, "web.bad_json", 400)
    return body


def _error(services: WebServices, key: str, status: int) -> web.HTTPException:
    body = json.dumps({"error": services.errors(key)}, ensure_ascii=False)
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 404: web.HTTPNotFound}[status]
    return cls(text=body, content_type="application/json")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)
