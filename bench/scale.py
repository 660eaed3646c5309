"""County-scale load test: several ``linli serve`` processes on one PostgreSQL and one
Redis, a simulated county sending a mixed stream through the Telegram webhook.

The county: ``--compounds`` compounds (default 100) with ``--residents`` residents
(default 100,000) in their flats, each with a Telegram account, and a secretary, a
building leader per building and a floor party member per building in each compound.
It is seeded once into a template database and copied for every run, so each run starts
from the same state.

A run starts N processes (``linli serve --role web,worker,scheduler``, each on its own
port, as behind a reverse proxy's upstream list) with the send rate shared through
Redis, and the local Bot API emulator in this process. ``--active`` residents spread
over every compound then talk at once, each a conversation in order: legal questions,
reports made to the end by pressing the offered buttons (matter, place, 下一步, 提交),
and the menu. Each update is POSTed to a process's webhook with the secret token;
an update that gets no 200 (a refused connection, a killed process) goes to the next
process with the same update id, as Telegram redelivers. The client waits for the bot's
answer in the emulator before the next step, so a report's buttons are the real ones.

Printed per run (JSON): updates/s, p50 / p99 of the webhook's answer and of the first
reply's arrival, cases created, and the checks —
- updates lost: POSTed update ids with no processed-update row (goal 0);
- messages lost: outbox rows not delivered at the end (goal 0);
- duplicates: messages the emulator received that no outbox row recorded as its send
  (a send repeated after a crash; goal 0 without a kill);
- duplicate effects: a resident with more cases than report conversations (goal 0);
- send rate: the most messages the emulator received in any one second (and per second
  over any five), against the configured limit shared by all processes (goal: never above
  it), and 429s. The emulator timestamps a message when this process gets to it, and this
  process also plays hundreds of residents: on a saturated machine its clock is late now
  and then, which can put a message or two into the wrong second.
The ``killed`` run SIGKILLs one of the processes half-way (goal: 0 lost); the ``rate_bound``
run sets the shared limit below what the residents ask for (``--bound-rate``, 40/s), so the
limit — not the machine — sets the pace, and the busiest second shows it holds across all
processes.

Needs PostgreSQL and Redis: ``LINLI_BENCH_POSTGRES_URL`` (default the test server's
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``; the bench creates and drops its
own databases next to it) and ``LINLI_BENCH_REDIS_URL`` (default redis://127.0.0.1:6379/0).

Usage: ``python bench/scale.py [--workers 1,2,4] [--active 300] [--rate 200] [--no-kill]``
(about 6 minutes at the defaults, the county seeded once into a template database)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.channels.telegram.webhook import SECRET_HEADER, webhook_secret  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.emulator.server import Emulator  # noqa: E402
from bot.emulator.world import World  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.models import (  # noqa: E402
    Case,
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
    Relation,
    ResponsibilityZone,
    Role,
    RoleGrant,
    User,
)
from handlers.structure import Shape, create_compound  # noqa: E402

TOKEN = "4343:scale"
SECRET_KEY = "scale-bench-secret"
FIRST_CHAT = 7_000_000
BASE_PORT = 18_400
BUILDINGS, UNITS, FLOORS, PER_FLOOR = 4, 2, 16, [4]  # 512 flats a compound
WEBHOOK = "/telegram/webhook"
# A claimed row not settled within the lease is sent again by another process: long enough
# for a worker slowed by an overloaded machine, short enough for a killed one's rows.
LEASE_SECONDS = 15
QUESTIONS = [
    "楼上天天往下扔垃圾，砸到人谁负责",
    "物业费不交会被起诉吗",
    "邻居在楼道里给电动车充电怎么办",
    "房东不退押金可以去哪里告",
    "老人被骗买保健品钱能要回来吗",
    "公司拖欠工资两个月了怎么维权",
    "业主委员会怎么成立",
    "楼下饭店油烟太大向谁投诉",
    "网上买的东西是假货怎么赔",
    "离婚了孩子抚养费不给怎么办",
]
REPORTS = [
    "楼道灯坏了好几天了，晚上看不见",
    "单元门的门禁坏了，刷卡没反应",
    "小区门口的路灯不亮了",
    "地下车库排水沟堵了，有积水",
    "电梯按钮失灵，按了没反应",
]
PREFERRED = ("我要报事", "提交", "下一步", "跳过")
CASE_CREATED = re.compile(r"已受理，编号")


# -- the county -----------------------------------------------------------------------
def _admin_dsn(url: str) -> str:
    """The libpq DSN of the server's maintenance database."""
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


def _database_url(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _recreate(admin: str, name: str, template: str | None = None) -> None:
    await _drop(admin, name)
    conn = await asyncpg.connect(admin)
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await conn.close()


async def _drop(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _seeded(admin: str, name: str, residents: int) -> bool:
    """The template exists and its seeding finished (an interrupted one is redone)."""
    conn = await asyncpg.connect(admin)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
    finally:
        await conn.close()
    conn = await asyncpg.connect(admin.rsplit("/", 1)[0] + f"/{name}")
    try:
        count = await conn.fetchval("SELECT count(*) FROM channel_identity")
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()
    return bool(count and count >= residents)


def _settings(db_url: str, **extra: Any) -> Settings:
    return Settings(database_url=db_url, secret_key=SECRET_KEY, **extra)  # type: ignore[call-arg]


async def seed_county(db_url: str, compounds: int, residents: int) -> int:
    """Compounds, flats, residents with Telegram accounts, and each compound's handlers;
    returns the number of residents."""
    app = App(_settings(db_url), channels={})
    await app.start()
    per_compound = -(-residents // compounds)
    now = datetime.now(UTC)
    chat = FIRST_CHAT
    made = 0
    try:
        for c in range(compounds):
            async with app.db.transaction() as session:
                compound, rooms = await create_compound(
                    session,
                    f"C{c:03d}",
                    f"县城第{c + 1}小区",
                    Shape(BUILDINGS, UNITS, FLOORS, PER_FLOOR),
                    "四川省眉山市洪雅县",
                )
                flats = list(rooms.values())
                count = min(per_compound, residents - made)
                people = [
                    {
                        "name": f"住户{made + i}",
                        "room_id": flats[i % len(flats)].id,
                        "relation": (Relation.OWNER if i < len(flats) else Relation.FAMILY).value,
                        "registered_at": now,
                        "created_at": now,
                    }
                    for i in range(count)
                ]
                staff = [
                    {"name": f"{c}号小区工作人员{i}", "registered_at": now, "created_at": now}
                    for i in range(1 + 2 * BUILDINGS)
                ]
                ids = list(
                    (await session.scalars(insert(User).returning(User.id), people + staff)).all()
                )
                resident_ids, staff_ids = ids[:count], ids[count:]
                await session.execute(
                    insert(ChannelIdentity),
                    [
                        {
                            "channel": "telegram",
                            "external_id": str(chat + i),
                            "chat_id": str(chat + i),
                            "user_id": uid,
                            "display_name": "",
                            "last_seen_at": now,
                        }
                        for i, uid in enumerate(resident_ids)
                    ],
                )
                chat += count
                made += count
                await _staff(session, compound.id, staff_ids)
    finally:
        await app.close()
    return made


async def _staff(session: Any, compound_id: int, ids: list[int]) -> None:
    """A secretary, and per building a building leader and a floor party member whose
    zone is every floor: every report has a named lead."""
    from handlers import directory

    buildings = await directory.buildings(session, compound_id)
    grants = [{"user_id": ids[0], "role": Role.SECRETARY.value, "compound_id": compound_id}]
    zones = []
    for n, building in enumerate(buildings):
        leader, member = ids[1 + 2 * n], ids[2 + 2 * n]
        for uid, role in ((leader, Role.BUILDING_LEADER), (member, Role.FLOOR_MEMBER)):
            grants.append(
                {
                    "user_id": uid,
                    "role": role.value,
                    "compound_id": compound_id,
                    "building_id": building.id,
                }
            )
        zones.append(
            {"building_id": building.id, "floor_from": 1, "floor_to": FLOORS, "member_id": member}
        )
    for grant in grants:
        grant.setdefault("building_id", None)
        grant["source"] = "seed"
    await session.execute(insert(RoleGrant), grants)
    await session.execute(insert(ResponsibilityZone), zones)


# -- the processes --------------------------------------------------------------------
def _env(db_url: str, api_base: str, redis_url: str, prefix: str, rate: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LINLI_DATABASE_URL=db_url,
        LINLI_SECRET_KEY=SECRET_KEY,
        LINLI_TELEGRAM_TOKEN=TOKEN,
        LINLI_TELEGRAM_API_BASE=api_base,
        LINLI_TELEGRAM_MODE="webhook",
        LINLI_TELEGRAM_RATE_PER_SECOND=str(rate),
        LINLI_REDIS_URL=redis_url,
        LINLI_REDIS_PREFIX=prefix,
        LINLI_OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        LINLI_OUTBOX_POLL_SECONDS="0.1",
        LINLI_STANDBY_SECONDS="2",
        LINLI_LOG_LEVEL="WARNING",
    )
    return env


def _spawn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--workers",
        "1",
        "--role",
        "web,worker,scheduler",
        "--port",
        str(port),
    ]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


async def _ready(http: ClientSession, port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"linli serve on port {port} exited with {proc.returncode}")
        try:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                if response.status == 200:
                    return
        except ClientError:
            pass
        await asyncio.sleep(0.3)
    raise SystemExit(f"linli serve on port {port} never became ready")


# -- the residents ----------------------------------------------------------------------
@dataclass
class Load:
    """What the client did and saw."""

    ports: list[int]
    alive: list[bool]
    posted: set[int] = field(default_factory=set)
    hook_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    reports_done: int = 0
    reports_started: int = 0
    reports_by_chat: Counter[str] = field(default_factory=Counter)
    redelivered: int = 0
    no_reply: int = 0
    next_port: int = 0


async def _post(http: ClientSession, load: Load, update: dict[str, Any], secret: str) -> None:
    """POST to the next live process; on anything but 200, the same update to the next."""
    started = time.monotonic()
    for attempt in range(200):
        index = load.next_port % len(load.ports)
        load.next_port += 1
        if not load.alive[index]:
            continue
        url = f"http://127.0.0.1:{load.ports[index]}{WEBHOOK}"
        try:
            async with http.post(url, json=update, headers={SECRET_HEADER: secret}) as response:
                if response.status == 200:
                    load.posted.add(update["update_id"])
                    load.hook_ms.append((time.monotonic() - started) * 1000)
                    return
        except (ClientError, TimeoutError):
            pass
        load.redelivered += 1
        await asyncio.sleep(min(0.05 * (attempt + 1), 1.0))
    raise RuntimeError(f"update {update['update_id']} never accepted")


async def _answer(world: World, chat: int, seen: int, started: float, load: Load) -> int:
    """Wait for the bot's reply (the first new message), then for the rest of its burst."""
    box = world.messages[chat]

    def count() -> int:
        return sum(1 for m in box.values() if m.get("from", {}).get("is_bot"))

    deadline = time.monotonic() + 60
    while count() <= seen:
        if time.monotonic() > deadline:
            load.no_reply += 1
            return count()
        await asyncio.sleep(0.02)
    load.reply_ms.append((time.monotonic() - started) * 1000)
    settled = count()
    while True:
        await asyncio.sleep(0.15)
        if count() == settled:
            return settled
        settled = count()


def _last_buttons(world: World, chat: int) -> tuple[int, list[tuple[str, str]]] | None:
    for message in reversed(list(world.messages[chat].values())):
        if not message.get("from", {}).get("is_bot"):
            continue
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        buttons = [
            (b["text"], b["callback_data"]) for r in rows for b in r if b.get("callback_data")
        ]
        return (message["message_id"], buttons) if buttons else None
    return None


async def resident(
    http: ClientSession, world: World, chat: int, steps: int, load: Load, secret: str
) -> None:
    rng = random.Random(chat)
    seen = 0
    for _ in range(steps):
        kind = rng.choices(("question", "report", "menu"), weights=(5, 3, 2))[0]
        text = {
            "question": rng.choice(QUESTIONS),
            "report": rng.choice(REPORTS),
            "menu": "菜单",
        }[kind]
        started = time.monotonic()
        await _post(http, load, world.user_says(chat, text, queue=False), secret)
        seen = await _answer(world, chat, seen, started, load)
        presses = {"question": 0, "report": 7, "menu": 1}[kind]
        if kind == "report":
            load.reports_started += 1
            load.reports_by_chat[str(chat)] += 1
        for _ in range(presses):
            offered = _last_buttons(world, chat)
            if offered is None:
                break
            message_id, buttons = offered
            label, data = next(
                ((t, d) for want in PREFERRED for t, d in buttons if t == want), buttons[0]
            )
            started = time.monotonic()
            update = world.user_presses(chat, chat, message_id, data, queue=False)
            await _post(http, load, update, secret)
            seen = await _answer(world, chat, seen, started, load)
            last = list(world.messages[chat].values())[-1]
            if kind == "report" and CASE_CREATED.search(last.get("text") or ""):
                load.reports_done += 1
                break


# -- one run ---------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _busiest(times: list[float], window: float = 1.0) -> int:
    """The most messages that arrived within any ``window`` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _outcome(db: Database) -> dict[str, Any]:
    async with db.transaction() as session:
        processed = set(
            (
                await session.scalars(
                    select(ProcessedUpdate.update_id).where(ProcessedUpdate.channel == "telegram")
                )
            ).all()
        )
        rows = (
            await session.execute(
                select(OutboxMessage.chat_id, OutboxMessage.platform_message_id).where(
                    OutboxMessage.channel == "telegram",
                    OutboxMessage.status == OutboxStatus.SENT,
                )
            )
        ).all()
        unsent = await session.scalar(
            select(func.count()).where(OutboxMessage.status != OutboxStatus.SENT)
        )
        cases = await session.scalar(select(func.count()).select_from(Case))
        by_chat = (
            await session.execute(
                select(ChannelIdentity.chat_id, func.count(Case.id))
                .join(Case, Case.reporter_id == ChannelIdentity.user_id)
                .where(ChannelIdentity.channel == "telegram")
                .group_by(ChannelIdentity.chat_id)
            )
        ).all()
    return {
        "processed": processed,
        "recorded": {(str(chat), str(mid)) for chat, mid in rows},
        "unsent": int(unsent or 0),
        "cases": int(cases or 0),
        "cases_by_chat": {str(chat): int(n) for chat, n in by_chat},
    }


async def _outbox_rows(db: Database, *statuses: OutboxStatus) -> int:
    async with db.transaction() as session:
        count = await session.scalar(select(func.count()).where(OutboxMessage.status.in_(statuses)))
    return int(count or 0)


async def _drained(db: Database, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not await _outbox_rows(db, OutboxStatus.PENDING, OutboxStatus.SENDING):
            return
        await asyncio.sleep(0.5)


async def run(
    args: argparse.Namespace,
    admin: str,
    template: str,
    workers: int,
    *,
    kill: bool = False,
    rate: float | None = None,
) -> dict[str, Any]:
    rate = rate or args.rate
    name = f"linli_scale_run_{os.getpid()}"
    await _recreate(admin, name, template)
    db_url = _database_url(args.postgres, name)
    db = Database(db_url)  # what the run did, read back for the checks
    emulator = Emulator(TOKEN)
    world = emulator.world
    rng = random.Random(workers * 7 + kill + int(rate))
    chats = [FIRST_CHAT + i for i in rng.sample(range(args.residents), args.active)]
    for chat in chats:
        world.add_user(chat, first_name="居民")
    world.set_rate_limit(args.telegram_limit)
    api_base = await emulator.start()
    prefix = f"linli-scale-{os.getpid()}-{workers}-{int(kill)}:"
    env = _env(db_url, api_base, args.redis, prefix, rate)
    ports = [BASE_PORT + i for i in range(workers)]
    procs = [_spawn(env, port) for port in ports]
    load = Load(ports=ports, alive=[True] * workers)
    secret = webhook_secret(TOKEN)
    connector = TCPConnector(limit=args.active)
    timeout = ClientTimeout(total=60)
    killed_after = in_flight = None
    try:
        async with ClientSession(connector=connector, timeout=timeout) as http:
            for port, proc in zip(ports, procs, strict=True):
                await _ready(http, port, proc)
            started = time.monotonic()
            tasks = [
                asyncio.create_task(resident(http, world, chat, args.steps, load, secret))
                for chat in chats
            ]
            if kill:
                expected = args.active * args.steps * 3
                while len(load.posted) < expected // 2 and not all(t.done() for t in tasks):
                    await asyncio.sleep(0.05)
                procs[-1].send_signal(signal.SIGKILL)
                procs[-1].wait()
                load.alive[-1] = False
                killed_after = len(load.posted)
                in_flight = await _outbox_rows(db, OutboxStatus.SENDING)
            await asyncio.gather(*tasks)
            wall = time.monotonic() - started
        await _drained(db, timeout=120)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        await emulator.stop()
    try:
        outcome = await _outcome(db)
    finally:
        await db.dispose()
    received = [(str(m["chat"]["id"]), str(m["message_id"])) for m in world.sent_log if "chat" in m]
    await _drop(admin, name)
    updates = len(load.posted)
    lost_updates = sum(1 for u in load.posted if str(u) not in outcome["processed"])
    result: dict[str, Any] = {
        "workers": workers,
        "updates": updates,
        "updates_per_second": round(updates / wall, 1),
        "wall_seconds": round(wall, 1),
        "webhook_ms": {
            "p50": _percentile(load.hook_ms, 0.5),
            "p99": _percentile(load.hook_ms, 0.99),
        },
        "first_reply_ms": {
            "p50": _percentile(load.reply_ms, 0.5),
            "p99": _percentile(load.reply_ms, 0.99),
        },
        "reports_completed": load.reports_done,
        "reports_started": load.reports_started,
        "cases_created": outcome["cases"],
        "updates_lost": lost_updates,
        "messages_lost": outcome["unsent"],
        "duplicates": sum(1 for key in received if key not in outcome["recorded"]),
        # A resident with more cases than report conversations: an update took effect twice.
        "duplicate_cases": sum(
            max(0, n - load.reports_by_chat[chat]) for chat, n in outcome["cases_by_chat"].items()
        ),
        "messages_sent": len(received),
        "configured_rate": rate,
        "busiest_second": _busiest(world.sent_times),
        "busiest_5s_per_second": round(_busiest(world.sent_times, 5.0) / 5, 1),
        # Arrival times, taken by the emulator in this (busy) process: a message granted
        # its slot on time may still be counted a little late, next to the following one.
        "within_limit_1s": _busiest(world.sent_times) <= rate,
        "within_limit_5s": _busiest(world.sent_times, 5.0) <= 5 * rate,
        "throttled_429": world.throttled,
        "redelivered": load.redelivered,
        "replies_missing": load.no_reply,
    }
    if kill:
        result["killed_after_updates"] = killed_after
        # Rows leased (being sent) by any process right after the kill: the most the
        # killed one may have sent without recording, so the most that can go twice.
        result["in_flight_at_kill"] = in_flight
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    admin = _admin_dsn(args.postgres)
    template = f"linli_scale_c{args.compounds}_r{args.residents}"
    seeded = None
    if args.reseed or not await _seeded(admin, template, args.residents):
        await _recreate(admin, template)
        started = time.monotonic()
        await seed_county(_database_url(args.postgres, template), args.compounds, args.residents)
        seeded = round(time.monotonic() - started, 1)
    results: dict[str, Any] = {
        "benchmark": "scale",
        "county": {"compounds": args.compounds, "residents": args.residents},
        "seed_seconds": seeded,
        "active_residents": args.active,
        "steps_per_resident": args.steps,
        "runs": [],
    }
    for workers in args.workers:
        results["runs"].append(await run(args, admin, template, workers))
    if args.kill:
        results["killed"] = await run(args, admin, template, max(args.workers), kill=True)
    if args.bound_rate:
        # Demand above the limit: the shared bucket, not the machine, sets the pace.
        results["rate_bound"] = await run(
            args, admin, template, max(args.workers), rate=args.bound_rate
        )
    results["machine"] = (
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    results["date"] = datetime.now(UTC).date().isoformat()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LINLI_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("LINLI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--compounds", type=int, default=100)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=300, help="residents talking at once")
    parser.add_argument("--steps", type=int, default=4, help="conversations per resident")
    parser.add_argument(
        "--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4]
    )
    parser.add_argument("--rate", type=float, default=200.0, help="configured sends/s, shared")
    parser.add_argument(
        "--telegram-limit", type=float, default=250.0, help="the emulator's own limit (429)"
    )
    parser.add_argument("--no-kill", dest="kill", action="store_false")
    parser.add_argument(
        "--bound-rate",
        type=float,
        default=40.0,
        help="a last run whose shared limit is below demand (0 to skip)",
    )
    parser.add_argument("--reseed", action="store_true", help="seed the county again")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
