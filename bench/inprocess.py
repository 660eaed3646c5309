"""In-process transports for aiogram and python-telegram-bot onto the emulator's ``World``.

Benchmarks measure the bot, not the loopback network: these plug into each library's
own transport hook (aiogram ``BaseSession``, PTB ``BaseRequest``) and answer every Bot
API call from ``bot.emulator.world.World`` — the same validation, message ids and
stored messages as the HTTP emulator — as the JSON text Telegram would send, which the
library then parses exactly as it parses a real response.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from aiogram import Bot as AiogramBot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from telegram.request import BaseRequest, RequestData

from bot.emulator.server import METHODS
from bot.emulator.world import ApiError, World


async def _answer(world: World, name: str, params: dict[str, Any]) -> tuple[int, str]:
    """The HTTP status and JSON text the emulator's server would answer."""
    method = METHODS[name.lower()]
    try:
        result = method(world, params, None)
        if hasattr(result, "__await__"):
            result = await result
        return 200, json.dumps({"ok": True, "result": result}, ensure_ascii=False)
    except ApiError as exc:
        return exc.code, json.dumps(exc.to_json(), ensure_ascii=False)


class WorldSession(BaseSession):
    """aiogram's transport, answered by the World."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: AiogramBot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        # As aiogram's own aiohttp session builds its form: values prepared one by one
        # (defaults resolved, objects as JSON text).
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files={})
            if prepared is not None:
                params[key] = prepared
        status, content = await _answer(self.world, method.__api_method__, params)
        response = self.check_response(bot, method, status, content)
        return response.result

    async def stream_content(  # type: ignore[override]
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        stored = self.world.files_by_path.get("/".join(url.rsplit("/", 2)[-2:]))
        yield stored.data if stored else b""


class WorldRequest(BaseRequest):
    """python-telegram-bot's transport, answered by the World."""

    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        params = dict(request_data.parameters) if request_data is not None else {}
        status, content = await _answer(self.world, url.rsplit("/", 1)[-1], params)
        return status, content.encode()
