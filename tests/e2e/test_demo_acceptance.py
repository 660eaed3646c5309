"""Issue 4's acceptance, literally: against a running ``linli demo`` over the web chat
API — resident-1 reports a leak from the flat above, floor-1 accepts, the deadline
passes (the demo runs with a tiny SLA scale), leader-b1 gets the case and resolves it,
resident-1 rates 满意, and ``linli cases show`` prints the whole history."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_server import ROOT, run_demo

pytestmark = pytest.mark.slow

# 48 h × 0.00005 ≈ 8.6 s at floor level; the demo's scheduler then checks every 2 s.
SLA_SCALE = "0.00005"


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.last: dict[str, list[dict[str, Any]]] = {}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def say(self, user: str, text: str) -> list[dict[str, Any]]:
        self.last[user] = self._call("POST", f"/api/chat/{user}/messages", {"text": text})[
            "replies"
        ]
        return self.last[user]

    def press(self, user: str, label: str) -> list[dict[str, Any]]:
        for message in reversed(self.last[user]):
            for row in message.get("buttons", []):
                for button in row:
                    if button["text"] == label:
                        replies = self._call(
                            "POST", f"/api/chat/{user}/messages", {"button": button["data"]}
                        )["replies"]
                        self.last[user] = replies
                        return replies
        raise AssertionError(f"{user} has no button {label!r}")

    def wait_for(self, user: str, key: str, needle: str, timeout: float = 40) -> dict[str, Any]:
        """Poll the user's mailbox like the page does, until a message arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self._call("GET", f"/api/chat/{user}/messages?after=0")["messages"]
            found = [m for m in messages if m.get("key") == key and needle in m["text"]]
            if found:
                self.last[user] = messages
                return found[-1]
            time.sleep(0.3)
        raise AssertionError(f"{user} never received {key} about {needle}")


def test_leak_report_climbs_to_the_building_leader_and_is_rated(tmp_path: Path) -> None:
    with run_demo(tmp_path, "--sla-scale", SLA_SCALE) as demo:
        api = Api(demo.base)
        first = api.say("resident-1", "楼上卫生间漏水到我家天花板了")
        if first[-1]["key"] == "consult.answer":  # answered as a question first
            api.press("resident-1", "我要报事")
        api.press("resident-1", "楼上漏水、渗水")
        api.press("resident-1", "楼上")
        api.press("resident-1", "下一步")
        created = api.press("resident-1", "提交")[-1]
        assert created["key"] == "report.created"
        number = created["text"].split("编号 ")[1].split()[0]

        api.wait_for("floor-1", "case.card_new", number)
        assert api.press("floor-1", "领办")[0]["key"] == "handling.accepted"

        api.wait_for("leader-b1", "case.card_new", number)  # the floor deadline passed
        api.press("leader-b1", "办结")
        assert api.say("leader-b1", "已协调楼上修好防水，天花板已修复")[-1]["key"] == (
            "handling.resolved"
        )
        api.wait_for("resident-1", "case.notice_resolved_rate", number)
        assert api.press("resident-1", "满意")[-1]["key"] == "handling.rated"

        shown = subprocess.run(
            [sys.executable, "-m", "bot.cli", "cases", "show", number, "--db", demo.db_url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        listed = subprocess.run(
            [sys.executable, "-m", "bot.cli", "cases", "list", "--json", "--db", demo.db_url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert listed.returncode == 0, listed.stderr
    [record] = json.loads(listed.stdout)
    assert record["number"] == number and record["status"] == "closed"
    assert record["reporter"] == "张*英" and record["reporter_room"] == "1栋1单元****"
    assert shown.returncode == 0, shown.stderr
    history = shown.stdout
    for step in ("报事", "分派", "领办", "上报", "办结", "评价", "关闭"):
        assert step in history, history
    assert "closed" in history.splitlines()[0]
