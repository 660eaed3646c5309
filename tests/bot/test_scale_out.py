"""Several linli processes on one PostgreSQL (and one Redis): issue 9's guarantees, each
checked with real OS processes (``tests/scale_child.py``) racing on the same rows.

- two delivery workers send every outbox row exactly once, each chat's rows in order and
  never two at once;
- two processes handling one update stream (with redelivered update ids) have each
  update's effect exactly once, each user's updates in stream order;
- the scheduler is active in one process only, and another takes over when it is killed;
- N delivery processes together stay under the send rate shared through Redis (measured).

These run in CI against the real services (``.ci/check_junit.py`` requires them); without
``LINLI_TEST_POSTGRES_URL`` / ``LINLI_TEST_REDIS_URL`` they are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.demo import seed_demo
from bot.outbox.pacing import bucket_depth
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, OutboxStatus, ProcessedUpdate
from tests.factories import enqueue, most_in_window

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("db", ["postgres"], indirect=True)]


class Child:
    """A ``tests.scale_child`` process: started, told to go, read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, mode: str, db: Database, arg: str = "") -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.scale_child",
            mode,
            db.url,
            db.search_path or "",
            arg,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        child = cls(proc)
        assert await child.readline(timeout=60) == "ready"
        return child

    async def readline(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=timeout)
        if not line:
            return None
        self.lines.append(line.decode().strip())
        return self.lines[-1]

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    async def records(self, timeout: float = 120) -> list[dict[str, Any]]:
        """Every JSON line until the process exits; it must exit cleanly."""
        assert self.proc.stdout is not None
        out = await asyncio.wait_for(self.proc.stdout.read(), timeout=timeout)
        assert await self.proc.wait() == 0
        self.lines += out.decode().splitlines()
        return [json.loads(line) for line in self.lines[1:] if line.startswith("{")]


async def race(mode: str, db: Database, count: int, arg: str = "") -> list[list[dict[str, Any]]]:
    children = [await Child.start(mode, db, arg) for _ in range(count)]
    for child in children:
        child.go()
    return [await child.records() for child in children]


async def test_two_worker_processes_send_every_outbox_row_once_in_order_per_chat(
    db: Database,
) -> None:
    chats = [f"chat-{n}" for n in range(30)]
    ids = [await enqueue(db, chat, f"message {i}") for i in range(12) for chat in chats]

    per_process = await race("worker", db, 2)

    sends = [send for records in per_process for send in records]
    assert all(per_process), "both processes must have sent something"
    assert Counter(s["id"] for s in sends) == Counter(ids), "a row lost or sent twice"
    by_chat: dict[str, list[dict[str, Any]]] = {}
    for send in sorted(sends, key=lambda s: s["start"]):
        by_chat.setdefault(send["chat"], []).append(send)
    for chat, chat_sends in by_chat.items():
        assert [s["id"] for s in chat_sends] == sorted(s["id"] for s in chat_sends), chat
        for before, after in zip(chat_sends, chat_sends[1:], strict=False):
            assert after["start"] >= before["end"], f"{chat}: two sends at once"
    async with db.transaction() as session:
        statuses = set((await session.scalars(select(OutboxMessage.status))).all())
    assert statuses == {OutboxStatus.SENT}


async def test_two_processes_on_one_update_stream_with_redeliveries_have_each_effect_once(
    db: Database, tmp_path: Path
) -> None:
    async with db.transaction() as session:
        await seed_demo(session)
    users = ["resident-1", "resident-2", "floor-1", "leader-b1", "secretary", "committee-1"]
    texts = ["/me", "/help", "/menu", "/mycases"]
    stream: list[tuple[str, str, str]] = []
    for user in users:
        sent: list[str] = []
        for i in range(10):
            update_id = f"{user}-{i}"
            stream.append((user, texts[i % len(texts)], update_id))
            sent.append(update_id)
            if i % 3 == 2:  # the platform redelivers an earlier update of this user
                stream.append((user, texts[(i - 2) % len(texts)], sent[i - 2]))
    unique = {update_id for _, _, update_id in stream}
    stream_file = tmp_path / "stream.json"
    stream_file.write_text(json.dumps(stream), encoding="utf-8")

    per_process = await race("updates", db, 2, str(stream_file))

    outcomes = [o for records in per_process for o in records]
    assert len(outcomes) == 2 * len(stream)
    effects = [o for o in outcomes if not o["duplicate"]]
    assert sorted(o["update"] for o in effects) == sorted(unique), "an update ran twice or never"
    first = {o["update"]: o["refs"] for o in effects}
    for o in outcomes:  # a duplicate answers with the very replies of the first handling
        assert o["refs"] == first[o["update"]]
    async with db.transaction() as session:
        processed = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
        rows = (
            await session.execute(
                select(OutboxMessage.chat_id, OutboxMessage.origin).order_by(OutboxMessage.id)
            )
        ).all()
    assert processed == len(unique)
    assert len(rows) == sum(len(refs) for refs in first.values())
    for user in users:  # each user's updates took effect in the order they were sent
        order = [origin.removeprefix("web:") for chat, origin in rows if chat == user]
        expected = [u for who, _, u in stream if who == user]
        assert list(dict.fromkeys(order)) == list(dict.fromkeys(expected)), user


async def test_scheduler_is_active_in_one_process_and_another_takes_over_when_it_is_killed(
    db: Database,
) -> None:
    children = [await Child.start("scheduler", db) for _ in range(3)]
    for child in children:
        child.go()

    async def next_active(candidates: list[Child], timeout: float) -> Child:
        pending = {asyncio.ensure_future(_until_active(c, timeout)): c for c in candidates}
        done, rest = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        winner = next(iter(done))
        winner.result()
        return pending[winner]

    holder = await next_active(children, timeout=30)
    standbys = [c for c in children if c is not holder]
    await asyncio.sleep(1.5)  # five standby periods: nobody else may become active
    for child in standbys:
        assert not any("active in process" in line for line in child.lines)

    holder.proc.send_signal(signal.SIGKILL)
    await holder.proc.wait()
    successor = await next_active(standbys, timeout=15)
    await asyncio.sleep(1.0)
    others = [c for c in standbys if c is not successor]
    assert all(not any("active in process" in line for line in c.lines) for c in others)

    for child in standbys:
        child.proc.send_signal(signal.SIGTERM)
    for child in standbys:
        assert await asyncio.wait_for(child.proc.wait(), timeout=30) == 0


async def _until_active(child: Child, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any("active in process" in line for line in child.lines):
        line = await child.readline(timeout=max(0.1, deadline - loop.time()))
        assert line is not None, "the scheduler process ended"


@pytest.mark.redis
async def test_worker_processes_together_stay_under_the_send_rate_shared_through_redis(
    db: Database, redis_url: str
) -> None:
    rate, processes, messages = 40.0, 3, 240
    for n in range(messages):
        await enqueue(db, f"chat-{n}", "notice")  # one a chat: only the rate holds them
    options = {"redis": redis_url, "prefix": f"linli-test-{uuid.uuid4().hex[:8]}:", "rate": rate}

    per_process = await race("worker", db, processes, json.dumps(options))

    starts = sorted(s["start"] for records in per_process for s in records)
    assert len(starts) == messages and all(per_process)
    measured = (len(starts) - 1) / (starts[-1] - starts[0])
    burst = bucket_depth(rate)
    busiest = most_in_window(starts, 1.0)
    print(
        f"\n{processes} processes, {messages} messages, shared rate {rate}/s (burst {burst}): "
        f"measured {measured:.2f}/s overall, at most {busiest} in any 1 s"
    )
    assert measured <= rate * 1.05, f"{measured:.1f}/s over the shared {rate}/s"
    assert measured >= rate * 0.8, f"{measured:.1f}/s: the shared bucket starves senders"
    assert busiest <= rate + burst + 1
