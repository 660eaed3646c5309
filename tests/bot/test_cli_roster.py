"""``linli roster import`` and ``linli invites export`` against a real SQLite file: the
sample roster builds a compound whose residents register with their invite codes and
whose reports reach the imported party member, property staff and building leader."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.storage.db import Database
from bot.storage.models import Case, OutboxMessage, User
from tests.bot.test_cli import ROOT, linli
from tests.chat import CoreChat
from tests.conftest import settings_for
from tests.factories import Clock

SAMPLE = ROOT / "deploy" / "roster" / "sample_roster.xlsx"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fresh_db(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/roster.db"
    upgraded = linli("db", "upgrade", db=url)
    assert upgraded.returncode == 0, upgraded.stderr
    return url


def _count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "roster.db") as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _export(url: str, out: Path, *extra: str) -> list[dict[str, str]]:
    done = linli("invites", "export", "--out", str(out), *extra, db=url)
    assert done.returncode == 0, done.stderr
    with (out / "index.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _code_for(index: list[dict[str, str]], name: str) -> str:
    return next(row["code"] for row in index if row["kind"] == "person" and name in row["label"])


@pytest.mark.slow
async def test_sample_roster_builds_a_compound_whose_reports_reach_its_leaders(
    tmp_path: Path,
) -> None:
    url = _fresh_db(tmp_path)
    first = linli("roster", "import", str(SAMPLE), db=url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "people:    19 (19 new, 0 updated)" in first.stdout
    again = linli("roster", "import", str(SAMPLE), db=url)
    assert again.returncode == 0 and "people:    19 (0 new, 0 updated)" in again.stdout
    index = _export(url, tmp_path / "qr")

    db = Database(url)
    app = App(settings_for(db), channels={"web": RecordingChannel("web")}, db=db)
    await app.start(migrate=False)
    chat = CoreChat(app)
    try:
        clock = Clock()
        app.dispatcher.clock = clock
        assert app.scheduler is not None
        app.scheduler.clock = clock
        for user, name in (("luo", "罗秀英"), ("chen", "陈志刚"), ("wu", "吴强")):
            replies = await chat.say(user, f"/start {_code_for(index, name)}")
            assert f"{name}您好" in replies[0].text, chat.text(replies)

        replies = await chat.report("luo", "楼上卫生间漏水到我家天花板了，墙皮都泡了")
        assert replies[-1].key == "report.ask_matter"
        await chat.press("luo", "楼上漏水、渗水")
        await chat.press("luo", "楼上")
        summary = await chat.press("luo", "下一步")
        assert "1栋1单元602" in summary[-1].text
        created = await chat.press("luo", "提交")
        assert created[-1].key == "report.created"
        number = created[-1].text.split("编号 ")[1].split()[0]
        assert number.startswith("HYBJ-")

        member_cards = await chat.read("chen")
        assert member_cards[-1].key == "case.card_new" and number in member_cards[-1].text
        assert "罗秀英" in member_cards[-1].text
        property_cards = await chat.read("wu")
        assert any(number in r.text for r in property_cards)

        clock.advance(hours=49)  # the floor's 48 h pass: up to the building leader
        assert await app.scheduler.tick() >= 1
        async with db.transaction() as session:
            case = await session.scalar(select(Case).where(Case.number == number))
            assert case is not None and case.level == "building"
            leader = await session.get(User, case.lead_id)
            assert leader is not None and leader.roster_key == "L01"
            # 王建国 was given a Telegram id in the roster: his card waits for that channel.
            to_telegram = (
                await session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.channel == "telegram", OutboxMessage.chat_id == "700000001"
                    )
                )
            ).all()
        assert any(number in str(row.payload.get("text", "")) for row in to_telegram)
    finally:
        await app.close()


@pytest.mark.slow
def test_an_invalid_roster_is_reported_by_row_and_column_and_nothing_imported(
    tmp_path: Path,
) -> None:
    url = _fresh_db(tmp_path)
    bad = tmp_path / "bad.csv"
    text = (ROOT / "deploy" / "roster" / "sample_roster.csv").read_text(encoding="utf-8-sig")
    text = text.replace(",书记,", ",队长,").replace(",1-1-502,", ",1-1-1502,")
    bad.write_text(text, encoding="utf-8-sig")
    report = linli("roster", "import", str(bad), db=url)
    assert report.returncode == 1
    assert "2 problem(s); nothing was imported" in report.stdout
    assert "bad.csv row 6, column 角色 (N6): unknown role '队长'" in report.stdout
    assert "column 住址 (P" in report.stdout and "no flat 1502" in report.stdout
    machine = linli("roster", "import", str(bad), "--json", db=url)
    assert machine.returncode == 1
    parsed = json.loads(machine.stdout)
    assert parsed["ok"] is False and parsed["imported"] is False
    assert [(p["row"], p["column_id"]) for p in parsed["problems"]][0] == (6, "role")
    checked = linli("roster", "import", str(SAMPLE), "--check", db=url)
    assert checked.returncode == 0 and "checked only" in checked.stdout
    for table in ("compound", "building", "room", "app_user", "role_grant", "invite"):
        assert _count(tmp_path, table) == 0, table


@pytest.mark.slow
def test_invites_export_writes_one_png_per_invite_and_an_index(tmp_path: Path) -> None:
    url = _fresh_db(tmp_path)
    assert linli("roster", "import", str(SAMPLE), db=url).returncode == 0
    out = tmp_path / "qr"
    index = _export(url, out, "--compound", "HYBJ", "--telegram-bot", "@linli_bot")
    assert len(index) == _count(tmp_path, "invite") == 28
    assert {row["kind"] for row in index} == {"person", "room"}
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == sorted(f"{row['code']}.png" for row in index)
    for row in index:
        assert row["link"] == f"https://t.me/linli_bot?start={row['code']}"
        data = (out / row["file"]).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(out / row["file"]) as image:
            assert 250 <= image.width <= 1200 and image.height > image.width
    web = _export(url, tmp_path / "web")
    assert all(row["link"].endswith(f"/join/{row['code']}") for row in web)
    assert all(row["link"].startswith("http") for row in web)
    missing = linli("invites", "export", "--out", str(tmp_path / "x"), "--compound", "NOPE", db=url)
    assert missing.returncode != 0 and "no compound" in missing.stderr
