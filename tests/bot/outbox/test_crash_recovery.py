"""kill -9 between commit and send loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.config import Settings
from bot.demo import seed_demo
from bot.outbox.worker import OutboxPolicy, OutboxWorker
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, OutboxStatus
from tests.crash_child import SECRET
from tests.factories import Clock, make_incoming

ROOT = Path(__file__).resolve().parents[3]


async def _run_child_until_killed(db: Database, point: str) -> list[int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash_child",
        db.url,
        db.search_path or "",
        point,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    return json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["after-commit", "after-claim"])
async def test_reply_committed_before_a_kill_is_delivered_once_after_restart(
    db: Database, point: str
) -> None:
    async with db.transaction() as session:
        await seed_demo(session)
    refs = await _run_child_until_killed(db, point)
    assert refs

    channel = RecordingChannel("web")
    clock = Clock()
    worker = OutboxWorker(db, {"web": channel}, OutboxPolicy(lease_seconds=30), clock=clock)
    if point == "after-claim":
        assert await worker.drain() == 0  # the dead worker's lease still holds
        clock.advance(seconds=31)
    assert await worker.drain() == len(refs)
    assert [m.id for m in channel.sent] == refs
    assert "1栋1单元1502" in channel.sent[0].payload["text"]

    # The platform redelivers the same update after the restart: no new effect.
    settings = Settings(_env_file=None, database_url=db.url, secret_key=SECRET)  # type: ignore[call-arg]
    app = App(settings, channels={"web": channel}, db=db)
    await app.start(migrate=False)
    outcome = await app.handle(make_incoming("resident-1", "/me", update_id="crash-1"))
    assert outcome.duplicate and [s.ref for s in outcome.replies] == refs
    assert await worker.drain() == 0
    async with db.transaction() as session:
        statuses = (await session.scalars(select(OutboxMessage.status))).all()
        total = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert total == len(refs) and set(statuses) == {OutboxStatus.SENT}
    assert len(channel.sent) == len(refs)
