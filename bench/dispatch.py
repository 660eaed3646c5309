"""Throughput of the core pipeline per update, against a bare-database baseline.

Runs in one process, both sides on the same machine state, and prints JSON:

- ``core``: updates through ``Dispatcher.handle`` on the seeded demo compound — conversation
  lock, dedupe, viewer lookup, the ``/me`` handler (address and duties queries), outbox write,
  processed-update record, commit.
- ``baseline``: the irreducible durable work per update with raw aiosqlite on SQLite in WAL
  mode — one ``BEGIN IMMEDIATE`` transaction inserting the update id and one outbox row.

Usage: ``python bench/dispatch.py [--updates 2000] [--users 20] [--db URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiosqlite

from bot.app import App
from bot.channels.null import NullChannel
from bot.config import Settings
from bot.core.events import Incoming
from bot.demo import PERSONAS, seed_demo
from bot.storage.models import utcnow

ROLES_WITH_ADDRESS = [p.id for p in PERSONAS if p.home is not None]


async def run_core(url: str, updates: int, users: int) -> dict[str, float]:
    settings = Settings(_env_file=None, database_url=url, secret_key="bench-secret-key")  # type: ignore[call-arg]
    app = App(settings, channels={"web": NullChannel()})
    await app.start()
    async with app.db.transaction() as session:
        await seed_demo(session)
    ids = [ROLES_WITH_ADDRESS[i % len(ROLES_WITH_ADDRESS)] for i in range(users)]
    per_user = updates // users
    latencies: list[float] = []

    async def one_user(user: str) -> None:
        for _ in range(per_user):
            event = Incoming("web", user, user, uuid.uuid4().hex, utcnow(), text="/me")
            started = time.perf_counter()
            await app.handle(event)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_user(u) for u in ids))
    elapsed = time.perf_counter() - started
    await app.close()
    latencies.sort()
    return {
        "updates": per_user * len(ids),
        "seconds": round(elapsed, 3),
        "updates_per_s": round(per_user * len(ids) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


async def run_baseline(path: Path, updates: int) -> dict[str, float]:
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute(
            "CREATE TABLE processed"
            " (channel TEXT, update_id TEXT, PRIMARY KEY (channel, update_id))"
        )
        await db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, chat_id TEXT, payload TEXT)")
        started = time.perf_counter()
        for n in range(updates):
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("INSERT INTO processed VALUES ('web', ?)", (uuid.uuid4().hex,))
            await db.execute(
                "INSERT INTO outbox (chat_id, payload) VALUES (?, ?)",
                (f"user-{n % 20}", json.dumps({"text": "我的信息"}, ensure_ascii=False)),
            )
            await db.execute("COMMIT")
        elapsed = time.perf_counter() - started
    return {
        "updates": updates,
        "seconds": round(elapsed, 3),
        "updates_per_s": round(updates / elapsed, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--db", help="database URL for the core run (default: a temp SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{tmp}/bench.db"
        core = await run_core(url, args.updates, args.users)
        baseline = await run_baseline(Path(tmp) / "baseline.db", args.updates)
    print(
        json.dumps(
            {
                "benchmark": "dispatch",
                "backend": url.split(":")[0],
                "users": args.users,
                "core": core,
                "baseline_raw_aiosqlite": baseline,
                "core_vs_baseline": round(core["updates_per_s"] / baseline["updates_per_s"], 3),
                "machine": f"{platform.machine()} {platform.python_version()}",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
