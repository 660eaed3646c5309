"""A process that handles one update through a real App and then dies by SIGKILL.

Used by the crash-recovery tests: ``python -m tests.crash_child URL SEARCH_PATH POINT``.
POINT is ``after-commit`` (the reply is committed, nothing sent yet) or ``after-claim``
(the worker has claimed the row and is about to send).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.config import Settings
from bot.storage.db import Database
from tests.factories import make_incoming

SECRET = "crash-test-secret-key-0123456789"


async def main(url: str, search_path: str, point: str) -> None:
    db = Database(url, search_path=search_path or None)
    settings = Settings(_env_file=None, database_url=url, secret_key=SECRET)  # type: ignore[call-arg]
    app = App(settings, channels={"web": RecordingChannel("web")}, db=db)
    await app.start(migrate=False)
    outcome = await app.handle(make_incoming("resident-1", "/me", update_id="crash-1"))
    if point == "after-claim":
        claimed = await app.worker.claim()
        assert [row.id for row in claimed] == [s.ref for s in outcome.replies]
    print(json.dumps([s.ref for s in outcome.replies]), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
