"""``linli serve --workers N``: N copies of one ``linli serve`` process, kept running.

Python runs one core per process, so scaling out on one machine means processes, all
alike: each runs the chosen roles, the web role shares one port (SO_REUSEPORT, the
kernel spreads connections), the worker role claims outbox rows through the database,
and the scheduler is active in one of them at a time (``bot/roles.py``). The parent
migrates the database once, starts the children, starts a child again a second after
it dies, and on SIGTERM or SIGINT passes SIGTERM on and waits for them to finish their
in-flight work. Containers and systemd may equally run single-process ``linli serve``
instances side by side; this is the same thing without an orchestrator.

Usage::

    commands = [child_command(["--role", "web,worker"]) for _ in range(4)]
    await supervise(commands, stop)
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0


def child_command(arguments: Sequence[str]) -> list[str]:
    """The command line of one child: ``linli serve`` as a single process."""
    return [sys.executable, "-m", "bot.cli", "serve", "--workers", "1", *arguments]


async def supervise(commands: Sequence[Sequence[str]], stop: asyncio.Event) -> int:
    """Run every command, restarting any that exits, until ``stop``; then stop them all.
    Returns 0, or 1 if a child had to be killed after the grace period."""
    results = await asyncio.gather(
        *(_keep_running(list(c), stop, n) for n, c in enumerate(commands))
    )
    return 1 if any(results) else 0


async def _keep_running(command: list[str], stop: asyncio.Event, number: int) -> bool:
    """One child slot; True if its last process had to be killed."""
    while not stop.is_set():
        proc = await asyncio.create_subprocess_exec(*command)
        log.info("worker process %d started (pid %d)", number, proc.pid)
        exited = asyncio.ensure_future(proc.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not exited.done():
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(exited, timeout=STOP_GRACE_SECONDS)
            except TimeoutError:
                log.error("worker process %d (pid %d) did not stop; killing it", number, proc.pid)
                proc.kill()
                await proc.wait()
                return True
            return False
        log.warning(
            "worker process %d (pid %d) exited with %s; starting it again",
            number,
            proc.pid,
            proc.returncode,
        )
        try:
            await asyncio.wait_for(stop.wait(), timeout=RESTART_DELAY_SECONDS)
        except TimeoutError:
            pass
    return False
