"""A local Telegram Bot API over HTTP (aiohttp), bound to 127.0.0.1, for tests and benchmarks.

Speaks the real protocol: ``/bot<token>/<method>`` with parameters in the query string,
a JSON body, a urlencoded form or multipart (uploads), answers ``{"ok": true, "result":
…}`` or Telegram's error objects; files download from ``/file/bot<token>/<path>``; a set
webhook receives every update by POST with the ``X-Telegram-Bot-Api-Secret-Token`` header,
again and again until it answers 2xx. Both aiogram and python-telegram-bot run against it
through ``LINLI_TELEGRAM_API_BASE``.

Routes under ``/_emulator`` play the users (send text, photos, press buttons, block the
bot) and read what the bot did, for tests in another process and ``linli telegram
emulator``.

Usage::

    emulator = Emulator(token="123:abc")
    base_url = await emulator.start(port=0)      # http://127.0.0.1:PORT
    emulator.world.user_says(1001, "/start")
    ...
    await emulator.stop()
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.emulator.world import BOT_ID, BOT_USERNAME, ApiError, World

log = logging.getLogger(__name__)

WORLD = web.AppKey("world", World)
Method = Callable[[World, dict[str, Any], bytes | None], Awaitable[Any] | Any]


async def _get_updates(world: World, p: dict[str, Any], _: bytes | None) -> Any:
    offset = int(p["offset"]) if p.get("offset") not in (None, "") else None
    return await world.get_updates(offset, int(p.get("limit") or 100), float(p.get("timeout") or 0))


METHODS: dict[str, Method] = {
    "getme": lambda w, p, f: {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": "邻里",
        "username": BOT_USERNAME,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    },
    "getupdates": _get_updates,
    "setwebhook": lambda w, p, f: w.set_webhook(p),
    "deletewebhook": lambda w, p, f: w.delete_webhook(p),
    "getwebhookinfo": lambda w, p, f: w.webhook_info(),
    "sendmessage": lambda w, p, f: w.send_message(p),
    "sendphoto": lambda w, p, f: w.send_photo(p, f),
    "senddocument": lambda w, p, f: w.send_document(p, f),
    "sendpoll": lambda w, p, f: w.send_poll(p),
    "editmessagetext": lambda w, p, f: w.edit_text(p),
    "editmessagereplymarkup": lambda w, p, f: w.edit_markup(p),
    "answercallbackquery": lambda w, p, f: w.answer_callback(p),
    "setmycommands": lambda w, p, f: w.set_commands(p),
    "getmycommands": lambda w, p, f: w.commands_for(p.get("scope")),
    "deletemycommands": lambda w, p, f: w.delete_commands(p),
    "getfile": lambda w, p, f: w.get_file(p),
    "close": lambda w, p, f: True,
    "logout": lambda w, p, f: True,
}


async def _params(request: web.Request) -> tuple[dict[str, Any], bytes | None]:
    params: dict[str, Any] = dict(request.query)
    upload: bytes | None = None
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    upload = value.file.read()
                    params[key] = f"attach://{key}"
                    params["_filename"] = value.filename
                else:
                    params[key] = value
    # aiogram attaches files as "attach://<name>" fields; the upload itself is that field.
    return params, upload


async def _api(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    if request.match_info["token"] != world.token:
        return _error(ApiError(401, "Unauthorized"))
    name = request.match_info["method"].lower()
    world.calls[name] += 1
    method = METHODS.get(name)
    if method is None:
        return _error(ApiError(404, "Not Found"))
    try:
        params, upload = await _params(request)
        result = method(world, params, upload)
        if asyncio.iscoroutine(result):
            result = await result
    except ApiError as exc:
        world.errors[exc.code] += 1
        return _error(exc)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        world.errors[400] += 1
        return _error(ApiError(400, f"Bad Request: {exc}"))
    return web.json_response({"ok": True, "result": result})


def _error(exc: ApiError) -> web.Response:
    return web.json_response(exc.to_json(), status=exc.code)


async def _file(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    if request.match_info["token"] != world.token:
        return web.Response(status=401)
    stored = world.files_by_path.get(request.match_info["path"])
    if stored is None:
        return web.Response(status=404)
    return web.Response(body=stored.data, content_type="application/octet-stream")


# -- the users' side (/_emulator) ---------------------------------------------
async def _control_body(request: web.Request) -> dict[str, Any]:
    return await request.json() if request.can_read_body else {}


async def _user_message(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    user = int(request.match_info["user"])
    body = await _control_body(request)
    chat = body.get("chat_id")
    if "photo_base64" in body:
        update = world.user_sends_photo(
            user, base64.b64decode(body["photo_base64"]), body.get("caption"), chat
        )
    elif "document_base64" in body:
        update = world.user_sends_document(
            user,
            base64.b64decode(body["document_base64"]),
            str(body.get("file_name") or "document"),
            body.get("caption"),
            chat,
        )
    else:
        update = world.user_says(user, str(body["text"]), chat)
    return web.json_response(update)


async def _user_press(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    body = await _control_body(request)
    user = int(request.match_info["user"])
    update = world.user_presses(
        user, int(body.get("chat_id", user)), int(body["message_id"]), str(body["data"])
    )
    return web.json_response(update)


async def _user_block(request: web.Request) -> web.Response:
    request.app[WORLD].block(int(request.match_info["user"]))
    return web.json_response({"ok": True})


async def _chat_messages(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    return web.json_response({"messages": world.bot_messages(int(request.match_info["chat"]))})


async def _rate(request: web.Request) -> web.Response:
    body = await _control_body(request)
    request.app[WORLD].set_rate_limit(body.get("per_second"))
    return web.json_response({"ok": True})


async def _stats(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    return web.json_response(
        {
            "sent": len(world.sent_log),
            "errors": {str(k): v for k, v in world.errors.items()},
            "calls": dict(world.calls),
            "pending_updates": len(world.updates),
            "webhook": world.webhook_info(),
        }
    )


async def _deliver_webhook(app: web.Application) -> None:
    """POST updates to the webhook one at a time, redelivering until a 2xx answer."""
    world = app[WORLD]
    delay = 0.05
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        while True:
            update = await world.next_for_webhook()
            hook = world.webhook
            if hook is None:
                continue
            headers = {}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = str(hook["secret_token"])
            try:
                async with session.post(hook["url"], json=update, headers=headers) as response:
                    ok = 200 <= response.status < 300
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("webhook delivery of update %s failed: %s", update["update_id"], exc)
                ok = False
            if ok:
                world.webhook_delivered(update["update_id"])
                delay = 0.05
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


async def _webhook_task(app: web.Application) -> Any:
    task = asyncio.create_task(_deliver_webhook(app), name="emulator-webhook")
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def create_emulator_app(world: World) -> web.Application:
    app = web.Application(client_max_size=20 * 1024 * 1024)
    app[WORLD] = world
    app.router.add_route("*", "/bot{token}/{method}", _api)
    app.router.add_get("/file/bot{token}/{path:.+}", _file)
    app.router.add_post("/_emulator/users/{user}/messages", _user_message)
    app.router.add_post("/_emulator/users/{user}/press", _user_press)
    app.router.add_post("/_emulator/users/{user}/block", _user_block)
    app.router.add_get("/_emulator/chats/{chat}/messages", _chat_messages)
    app.router.add_post("/_emulator/rate", _rate)
    app.router.add_get("/_emulator/stats", _stats)
    app.cleanup_ctx.append(_webhook_task)
    return app


class Emulator:
    """The emulator as a running server on 127.0.0.1."""

    def __init__(self, token: str = "123:abc", world: World | None = None) -> None:
        self.world = world or World(token)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(create_emulator_app(self.world), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        bound = sockets[0].getsockname()[1]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            self.world.close()
            await self._runner.cleanup()
            self._runner = None
