"""The Telegram webhook route on the project's aiohttp server.

Telegram POSTs each update with the secret token given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header; a request without the right token gets 401
and changes nothing. The route answers 200 only after the core stored the update; a
failure answers 500 so Telegram delivers the same update again (the core's dedupe by
update id makes the redelivery harmless).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from aiohttp import web

from bot.channels.telegram.common import TelegramChannel

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_PATH = "/telegram/webhook"
_MAX_BODY = 1024 * 1024


def webhook_secret(token: str, configured: str = "") -> str:
    """The configured secret, or one derived from the bot token (so ``set-webhook`` and
    the server agree without another setting). Telegram allows A-Z a-z 0-9 _ -."""
    if configured:
        return configured
    return hmac.new(token.encode(), b"linli-telegram-webhook", hashlib.sha256).hexdigest()


def add_webhook_route(
    app: web.Application, channel: TelegramChannel, secret: str, path: str = DEFAULT_PATH
) -> None:
    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook call without the secret token from %s", request.remote)
            return web.Response(status=401, text="unauthorized")
        if request.content_length is not None and request.content_length > _MAX_BODY:
            return web.Response(status=413)
        try:
            raw = await request.json()
            update = channel.parse(raw)
        except (json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
            log.warning("webhook body is not an update: %s", exc)
            return web.Response(status=400, text="bad update")
        try:
            await channel.process(update)
        except Exception:
            log.exception("webhook update %s not stored", raw.get("update_id"))
            return web.Response(status=500, text="try again")
        return web.Response(status=200, text="ok")

    app.router.add_post(path, receive)
