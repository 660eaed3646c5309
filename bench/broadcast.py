"""Broadcast delivery: 10,000 recipients through the Telegram adapter against the local
Bot API emulator, at a configured rate, with and without a SIGKILL half-way.

The parent process runs the emulator (real HTTP on 127.0.0.1, Telegram's ~30/s limit
switched on for the paced runs) and prepares a SQLite file: one compound with a flat
per recipient, each resident with a Telegram account, and a broadcast to the whole
compound composed the way ``linli broadcast send`` does (its outbox rows written). A
child process — the delivery worker of ``linli serve`` with the aiogram adapter — then
sends it. The emulator's log is the ground truth: per chat, how many copies arrived.

Runs:
- ``paced``: the configured rate (default 25/s); achieved rate over the sending window
  divided by the configured one (goal >= 0.95), losses and duplicates (goal 0);
- ``killed``: the same, the child SIGKILLed when half the messages are out and started
  again; losses (goal 0) and duplicates against the rows leased (in flight) at the kill;
- ``ceiling``: rate 1,000/s (Telegram's paid broadcast limit), the emulator unthrottled:
  where the project itself tops out.

Prints JSON. Usage: ``python bench/broadcast.py [--recipients 10000] [--rate 25]``
(the paced runs take recipients/rate seconds each: 400 s at the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.emulator.server import Emulator  # noqa: E402
from bot.outbox.enqueue import OutboxWriter  # noqa: E402
from bot.storage.models import (  # noqa: E402
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    Relation,
    User,
)
from handlers.broadcasts import BroadcastService  # noqa: E402
from handlers.structure import Shape, create_compound  # noqa: E402

TOKEN = "4242:bench"
FIRST_CHAT = 5_000_000
CODE = "BENCH"
NOTICE = "【普法通知】本周六上午九点，小区广场开展《民法典》进小区宣传活动，欢迎参加。"
TELEGRAM_LIMIT = 30.0  # the emulator's global limit in the paced runs (Telegram's ~30/s)
LEASE_SECONDS = 3.0  # how soon the restarted worker takes over the dead one's rows


def _env(db_url: str, api_base: str, rate: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LINLI_DATABASE_URL=db_url,
        LINLI_TELEGRAM_TOKEN=TOKEN,
        LINLI_TELEGRAM_API_BASE=api_base,
        LINLI_TELEGRAM_RATE_PER_SECOND=str(rate),
        LINLI_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        LINLI_OUTBOX_POLL_SECONDS="0.05",
        LINLI_SECRET_KEY="bench-secret",
        LINLI_LOG_LEVEL="WARNING",
    )
    return env


async def prepare(db_url: str, recipients: int) -> int:
    """A compound with one resident per flat, and the broadcast's outbox rows."""
    settings = Settings(database_url=db_url, secret_key="bench-secret")  # type: ignore[call-arg]
    app = App(settings, channels={})
    await app.start()
    floors, per_floor = 25, 20
    buildings = -(-recipients // (2 * floors * per_floor))
    async with app.db.transaction() as session:
        _, rooms = await create_compound(
            session, CODE, "基准小区", Shape(buildings, 2, floors, [per_floor])
        )
        now = datetime.now(UTC)
        room_ids = [room.id for room in list(rooms.values())[:recipients]]
        users = [
            {
                "name": f"住户{i}",
                "room_id": r,
                "relation": Relation.OWNER.value,
                "registered_at": now,
                "created_at": now,
            }
            for i, r in enumerate(room_ids)
        ]
        await session.execute(insert(User), users)
        ids = list((await session.scalars(select(User.id).order_by(User.id))).all())
        await session.execute(
            insert(ChannelIdentity),
            [
                {
                    "channel": "telegram",
                    "external_id": str(FIRST_CHAT + i),
                    "chat_id": str(FIRST_CHAT + i),
                    "user_id": uid,
                    "display_name": "",
                    "last_seen_at": now,
                }
                for i, uid in enumerate(ids)
            ],
        )
    assert app.signer is not None
    async with app.db.transaction() as session:
        service = BroadcastService(
            session, OutboxWriter(session, app.signer), app.catalog, datetime.now(UTC)
        )
        broadcast = await service.compose(
            sender_id=None, compound_id=None, targets=[f"compound:{CODE}"], text=NOTICE
        )
        count = broadcast.recipients
    await app.close()
    return count


async def _in_flight(db_url: str) -> int:
    settings = Settings(database_url=db_url, secret_key="bench-secret")  # type: ignore[call-arg]
    app = App(settings, channels={})
    try:
        async with app.db.transaction() as session:
            return int(
                await session.scalar(
                    select(func.count()).where(OutboxMessage.status == OutboxStatus.SENDING)
                )
                or 0
            )
    finally:
        await app.close()


def _spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--child"], env=env, cwd=ROOT)


async def run(recipients: int, rate: float, *, kill: bool, throttle: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="linli-broadcast-") as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        emulator = Emulator(TOKEN)
        world = emulator.world
        for i in range(recipients):
            world.add_user(FIRST_CHAT + i)
        if throttle:
            world.set_rate_limit(TELEGRAM_LIMIT)
        api_base = await emulator.start()
        queued = await prepare(db_url, recipients)
        env = _env(db_url, api_base, rate)
        started = time.monotonic()
        child = _spawn(env)
        in_flight_at_kill = None
        killed_at = None

        def delivered() -> int:
            return sum(1 for m in world.sent_log if NOTICE in (m.get("text") or ""))

        while child.poll() is None:
            await asyncio.sleep(0.05)
            if kill and killed_at is None and delivered() >= queued // 2:
                child.send_signal(signal.SIGKILL)
                child.wait()
                killed_at = delivered()
                in_flight_at_kill = await _in_flight(db_url)
                child = _spawn(env)
        if child.returncode:
            raise SystemExit(f"worker exited with {child.returncode}")
        wall = time.monotonic() - started
        per_chat = Counter(
            m["chat"]["id"] for m in world.sent_log if NOTICE in (m.get("text") or "")
        )
        times = [
            t
            for t, m in zip(world.sent_times, world.sent_log, strict=True)
            if NOTICE in (m.get("text") or "")
        ]
        await emulator.stop()
    sent = sum(per_chat.values())
    window = times[-1] - times[0] if len(times) > 1 else 0.0
    achieved = (sent - 1) / window if window else 0.0
    out: dict[str, Any] = {
        "recipients": queued,
        "configured_rate": rate,
        "messages_received": sent,
        "lost": sum(1 for i in range(recipients) if per_chat[FIRST_CHAT + i] == 0),
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "wall_seconds": round(wall, 2),
        "throttled_429": world.throttled,
    }
    if kill:
        out["killed_after_messages"] = killed_at
        out["in_flight_at_kill"] = in_flight_at_kill
    else:
        out["achieved_rate"] = round(achieved, 2)
        out["achieved_over_configured"] = round(achieved / rate, 3)
    return out


async def child_main() -> None:
    """The delivery worker of ``linli serve``, until the queue is empty."""
    settings = Settings()
    app = App(settings)
    await app.start(migrate=False)
    assert app.telegram is not None
    await app.telegram.start()
    stop = asyncio.Event()
    worker = asyncio.create_task(app.worker.run(stop))
    while True:
        await asyncio.sleep(0.2)
        async with app.db.transaction() as session:
            left = await session.scalar(
                select(func.count()).where(
                    OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                )
            )
        if not left:
            break
    stop.set()
    await worker
    await app.telegram.stop()
    await app.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"benchmark": "broadcast"}
    results["paced"] = await run(args.recipients, args.rate, kill=False, throttle=True)
    results["killed"] = await run(args.recipients, args.rate, kill=True, throttle=True)
    if args.ceiling:
        results["ceiling"] = await run(args.recipients, args.ceiling, kill=False, throttle=False)
    results["machine"] = (
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results["date"] = datetime.now(UTC).date().isoformat()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--ceiling", type=float, default=1000.0, help="0 to skip")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child_main())
        return
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
