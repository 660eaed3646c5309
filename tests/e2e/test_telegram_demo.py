"""Acceptance: ``linli demo`` with a Telegram token runs against the Bot API emulator
(``linli telegram emulator``), with either library, as two real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_server import ROOT, free_port, run_demo

USER = 5550001


def _call(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _wait_for(base: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = _call(base, f"/_emulator/chats/{USER}/messages")["messages"]
        if len(messages) >= count:
            return messages
        time.sleep(0.1)
    raise AssertionError(f"the bot sent {len(messages)} messages, expected {count}")


@pytest.mark.parametrize("library", ["aiogram", "ptb"])
def test_demo_with_a_token_answers_telegram_users_through_the_emulator(
    library: str, tmp_path: Path
) -> None:
    port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "telegram", "emulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        assert "Bot API emulator" in emulator.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        env = {
            "LINLI_TELEGRAM_TOKEN": "123:abc",
            "LINLI_TELEGRAM_API_BASE": base,
            "LINLI_TELEGRAM_LIBRARY": library,
        }
        with run_demo(tmp_path, env=env):
            _call(base, f"/_emulator/users/{USER}/messages", {"text": "/start SDDJ-JOIN"})
            first = _wait_for(base, 1)
            assert "时代帝景" in "".join(m.get("text", "") for m in first)
            buttons = first[-1]["reply_markup"]["inline_keyboard"]
            _call(
                base,
                f"/_emulator/users/{USER}/press",
                {"message_id": first[-1]["message_id"], "data": buttons[0][0]["callback_data"]},
            )
            _wait_for(base, len(first) + 1)
            stats = _call(base, "/_emulator/stats")
            assert stats["calls"]["setmycommands"] >= 1
            assert stats["calls"]["answercallbackquery"] >= 1
    finally:
        emulator.send_signal(signal.SIGINT)
        emulator.wait(timeout=10)
        if emulator.stdout is not None:
            emulator.stdout.close()
