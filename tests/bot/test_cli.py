"""The ``linli`` command line against a real SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import head_revision

ROOT = Path(__file__).resolve().parents[2]


def linli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args, "--db", db],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_operator_creates_a_compound_and_invite_codes(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path}/ops.db"
    assert linli("db", "upgrade", db=db).stdout.strip() == head_revision()
    made = linli(
        "compound",
        "create",
        "--code",
        "HYJY",
        "--name",
        "洪雅家园",
        "--buildings",
        "3",
        "--units",
        "2",
        "--floors",
        "11",
        "--rooms",
        "2,2,4",
        db=db,
    )
    assert made.returncode == 0, made.stderr
    assert "176 flats" in made.stdout  # (2+2+4) flats a floor × 2 units × 11 floors
    again = linli(
        "compound",
        "create",
        "--code",
        "HYJY",
        "--name",
        "x",
        "--buildings",
        "1",
        "--floors",
        "1",
        db=db,
    )
    assert again.returncode != 0 and "already exists" in again.stderr
    invite = linli(
        "invites",
        "create",
        "--compound",
        "HYJY",
        "--role",
        "building_leader",
        "--building",
        "2",
        db=db,
    )
    assert invite.returncode == 0, invite.stderr
    code, link = invite.stdout.split()
    assert link.endswith(f"/join/{code}")
    room = linli("invites", "create", "--compound", "HYJY", "--room", "3-2-1104", db=db)
    assert room.returncode == 0, room.stderr
    missing = linli("invites", "create", "--compound", "HYJY", "--room", "3-2-1105", db=db)
    assert missing.returncode != 0 and "no room" in missing.stderr
