"""``linli serve --workers N``: N processes on one port, a dead one started again, all
stopped by one SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_workers_share_one_port_a_killed_one_is_restarted_and_sigterm_stops_all(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {**os.environ, "LINLI_FILES_DIR": str(tmp_path / "files")}
    log = (tmp_path / "serve.log").open("wb")  # a pipe nobody reads could fill and block
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--workers",
        "2",
        "--role",
        "web",
        "--port",
        str(port),
        "--db",
        f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            async def two_children() -> bool:
                return len(children_of(proc.pid)) == 2

            await wait_for(two_children, 30)
            await wait_for(healthy, 60)
            first = children_of(proc.pid)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)

            async def replaced() -> bool:
                now = children_of(proc.pid)
                return len(now) == 2 and victim not in now

            await wait_for(replaced, 30)
            for _ in range(10):  # whichever process the kernel picks answers
                assert await healthy()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
        assert not children_of(proc.pid)
    finally:
        if proc.returncode is None:
            for pid in children_of(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
            await proc.wait()
        log.close()
