"""Run a real ``linli demo`` process for end-to-end tests, and stop it like Ctrl-C does.

On exit it asserts the server stopped cleanly on SIGINT (exit 0, "linli stopped", no
traceback): stopping cleanly is part of the demo's contract.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoServer:
    base: str
    db_url: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def run_demo(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[DemoServer]:
    port = free_port()
    db_url = f"sqlite+aiosqlite:///{tmp}/demo.db"
    log_path = tmp / "server.log"
    cmd = [sys.executable, "-m", "bot.cli", "demo", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--db", db_url, *extra]
    with log_path.open("wb") as log:  # a file, not a pipe: access logs must never block it
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"linli demo exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"linli demo not healthy after 30 s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield DemoServer(base, db_url)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"linli demo ignored SIGINT:\n{log_path.read_text()}")
    output = log_path.read_text()
    assert proc.returncode == 0, f"linli demo exited with {proc.returncode}:\n{output}"
    assert "linli stopped" in output and "Traceback" not in output, output
