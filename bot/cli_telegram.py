"""``linli telegram …``: webhook set-up for a real bot, and the local Bot API emulator.

Kept apart from ``bot.cli`` because it is only about Telegram; ``bot.cli`` mounts it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from bot.app import telegram_channel
from bot.channels.telegram.webhook import webhook_secret
from bot.config import Settings


def _settings() -> Settings:
    settings = Settings()
    if not settings.telegram_token:
        raise SystemExit("LINLI_TELEGRAM_TOKEN is not set (the token @BotFather gave you)")
    return settings


def cmd_set_webhook(args: argparse.Namespace) -> int:
    """Tell Telegram to POST updates to URL, with the secret token the server checks."""
    settings = _settings()
    url = args.url.rstrip("/")
    if not url.endswith(settings.telegram_webhook_path):
        url += settings.telegram_webhook_path
    if not url.startswith("https://") and not args.insecure:
        raise SystemExit("Telegram delivers webhooks only to https:// URLs (--insecure for tests)")

    async def run() -> None:
        channel = telegram_channel(settings)
        try:
            secret = webhook_secret(settings.telegram_token, settings.telegram_webhook_secret)
            await channel.set_webhook(url, secret)
        finally:
            await channel.stop()

    asyncio.run(run())
    print(f"webhook set: {url} (run the server with LINLI_TELEGRAM_MODE=webhook)")
    return 0


def cmd_delete_webhook(args: argparse.Namespace) -> int:
    settings = _settings()

    async def run() -> None:
        channel = telegram_channel(settings)
        try:
            await channel.delete_webhook()
        finally:
            await channel.stop()

    asyncio.run(run())
    print("webhook deleted: the bot can use long polling again")
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    from bot.emulator.server import Emulator

    async def run() -> None:
        emulator = Emulator(args.token)
        if args.rate:
            emulator.world.set_rate_limit(args.rate)
        base = await emulator.start(args.host, args.port)
        print(f"Bot API emulator: {base} (token {args.token})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await emulator.stop()
        print("emulator stopped", flush=True)

    asyncio.run(run())
    return 0


def add_telegram_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    telegram = sub.add_parser("telegram", help="Telegram bot set-up and the local emulator")
    tsub = telegram.add_subparsers(dest="telegram_command", required=True)
    hook = tsub.add_parser("set-webhook", help="point the bot's webhook at this server")
    hook.add_argument("url", help="public https URL of this server (path added if missing)")
    hook.add_argument("--insecure", action="store_true", help="allow http:// (local tests)")
    hook.set_defaults(func=cmd_set_webhook)
    tsub.add_parser("delete-webhook", help="go back to long polling").set_defaults(
        func=cmd_delete_webhook
    )
    emulator = tsub.add_parser("emulator", help="run a local Bot API emulator on 127.0.0.1")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8081)
    emulator.add_argument("--token", default="123:abc")
    emulator.add_argument("--rate", type=float, default=0, help="messages per second (429 above)")
    emulator.set_defaults(func=cmd_emulator)
