"""One process of the scale-out tests: a delivery worker, an update handler or a scheduler.

``python -m tests.scale_child MODE URL SEARCH_PATH [ARG]``. Each child sets itself up,
prints ``ready`` and waits for a line on stdin before racing the others, so the
processes really run at the same time rather than one after the other.

- ``worker`` ARG = JSON ``{"redis": url, "prefix": p, "rate": r}`` or ``{}``: sends due outbox
  rows through a channel that takes a few milliseconds per message and prints one JSON
  line per send (row id, chat, start and end times) until no row is pending or in flight.
- ``updates`` ARG = a JSON file of ``[user, text, update_id]``: handles the stream through
  a real ``App``, one task per user (in order within a user), and prints each outcome.
- ``scheduler``: ``App.serve`` with the scheduler role only; prints the role's log lines
  (``scheduler: active in process N``) until SIGTERM or SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from typing import Any

from sqlalchemy import func, select

from bot.app import App
from bot.channels.base import Outbound, SendResult, Sent
from bot.channels.recording import RecordingChannel
from bot.config import Settings
from bot.outbox.pacing import ChannelRate, Pacer, local_bucket
from bot.outbox.shared_rate import RedisRates
from bot.outbox.worker import OutboxPolicy, OutboxWorker
from bot.roles import ServeRole
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, OutboxStatus
from tests.factories import make_incoming

SECRET = "scale-out-test-secret-key-0123456"
SEND_SECONDS = 0.005


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def ready_then_wait() -> None:
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)


class TimedChannel(RecordingChannel):
    """Takes a little while per message, and says when each send started and ended."""

    async def send(self, message: Outbound) -> SendResult:
        start = time.time()
        await asyncio.sleep(SEND_SECONDS)
        emit({"id": message.id, "chat": message.chat_id, "start": start, "end": time.time()})
        return Sent()


async def run_worker(db: Database, options: dict[str, Any]) -> None:
    rates = RedisRates.from_url(options["redis"], prefix=options["prefix"]) if options else None
    pacer = Pacer(
        {"web": ChannelRate(per_second=options["rate"])} if options else {},
        bucket=rates.bucket if rates else local_bucket,
    )
    worker = OutboxWorker(db, {"web": TimedChannel("web")}, OutboxPolicy(), pacer=pacer)
    await ready_then_wait()
    unsettled = OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))
    while True:
        if await worker.run_once():
            continue
        async with db.transaction() as session:
            left = await session.scalar(select(func.count()).where(unsettled))
        if not left:
            break
        await asyncio.sleep(0.01)  # a chat's next row waits for another process's send
    if rates is not None:
        await rates.close()


async def run_updates(app: App, stream_file: str) -> None:
    stream = json.loads(open(stream_file, encoding="utf-8").read())
    by_user: dict[str, list[tuple[str, str]]] = {}
    for user, text, update_id in stream:
        by_user.setdefault(user, []).append((text, update_id))
    await ready_then_wait()

    async def one_user(user: str, updates: list[tuple[str, str]]) -> None:
        for text, update_id in updates:
            outcome = await app.handle(make_incoming(user, text, update_id=update_id))
            refs = [s.ref for s in outcome.replies]
            emit({"update": update_id, "duplicate": outcome.duplicate, "refs": refs})

    await asyncio.gather(*(one_user(u, ups) for u, ups in by_user.items()))


async def run_scheduler(app: App) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    roles_log = logging.getLogger("bot.roles")
    roles_log.addHandler(handler)
    roles_log.setLevel(logging.INFO)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await ready_then_wait()
    await app.serve(stop, frozenset({ServeRole.SCHEDULER}))


async def main(mode: str, url: str, search_path: str, arg: str = "") -> None:
    db = Database(url, search_path=search_path or None)
    try:
        if mode == "worker":
            await run_worker(db, json.loads(arg or "{}"))
            return
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=url,
            secret_key=SECRET,
            standby_seconds=0.3,
            scheduler_interval_seconds=0.2,
        )
        app = App(settings, channels={"web": RecordingChannel("web")}, db=db)
        await app.start(migrate=False)
        if mode == "updates":
            await run_updates(app, arg)
        else:
            await run_scheduler(app)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
