"""``linli broadcast send|quiz|status|cancel`` against a demo-seeded SQLite file."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.storage.db import Database
from bot.storage.files import FileStore
from bot.storage.models import OutboxMessage, OutboxStatus, Priority, utcnow
from tests.databases import seed_demo_file

BUILDING_1 = {"resident-1", "resident-2", "floor-1", "leader-b1"}
NOTICE = "本周六上午9点在1栋楼下开展《民法典》普法宣传。"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/linli.db"
    asyncio.run(seed_demo_file(url))
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str, db: str) -> dict[str, Any]:
    assert main(["broadcast", *args, "--db", db]) == 0
    return json.loads(capsys.readouterr().out)


def bulk_rows(url: str) -> list[OutboxMessage]:
    async def read() -> list[OutboxMessage]:
        db = Database(url)
        try:
            async with db.transaction() as session:
                query = select(OutboxMessage).where(OutboxMessage.priority == Priority.BULK)
                return list((await session.scalars(query.order_by(OutboxMessage.id))).all())
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_send_now_expands_the_notice_and_status_reports_the_counts(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = run(capsys, "send", "--text", NOTICE, "--to", "building:SDDJ-1", db=db_url)
    assert sent["status"] == "sending" and sent["kind"] == "notice"
    assert sent["recipients"] == len(BUILDING_1) and sent["queued"] == len(BUILDING_1)
    assert sent["targets"] == ["building:SDDJ-1"] and sent["started_at"] is not None
    rows = bulk_rows(db_url)
    assert sorted(r.chat_id for r in rows) == sorted(BUILDING_1)
    assert {r.broadcast_id for r in rows} == {sent["id"]}
    assert all(NOTICE in r.payload["text"] for r in rows)

    status = run(capsys, "status", str(sent["id"]), "--json", db=db_url)
    assert status["id"] == sent["id"] and status["status"] == "sending"
    assert {k: status[k] for k in ("recipients", "queued", "sent", "failed", "unreachable")} == {
        "recipients": 4,
        "queued": 4,
        "sent": 0,
        "failed": 0,
        "unreachable": 0,
    }


def test_status_without_json_prints_one_summary(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = run(capsys, "send", "--text", NOTICE, "--to", "building:SDDJ-1", db=db_url)
    assert main(["broadcast", "status", str(sent["id"]), "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert f"#{sent['id']} notice [sending]" in out and "recipients 4" in out


def test_send_to_several_targets_reaches_each_person_once(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = run(
        capsys,
        "send",
        "--text",
        NOTICE,
        "--to",
        "building:SDDJ-1",
        "--to",
        "role:building_leader@SDDJ",
        db=db_url,
    )
    chats = [r.chat_id for r in bulk_rows(db_url)]
    assert len(chats) == len(set(chats)) == sent["recipients"]
    assert set(chats) == BUILDING_1 | {f"leader-b{n}" for n in range(2, 7)}


def test_send_from_a_file(db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notice = tmp_path / "notice.txt"
    notice.write_text(f"\n{NOTICE}\n", encoding="utf-8")
    sent = run(capsys, "send", "--file", str(notice), "--to", "compound:SDDJ", db=db_url)
    assert sent["recipients"] > len(BUILDING_1)
    assert all(NOTICE in r.payload["text"] for r in bulk_rows(db_url))


def test_send_with_an_attached_pdf_stores_it_and_every_message_carries_it(
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINLI_FILES_DIR", str(tmp_path / "files"))
    pdf = tmp_path / "关于法治进小区的通知.pdf"
    pdf.write_bytes(b"%PDF-1.4 notice\n%%EOF\n")
    run(
        capsys, "send", "--text", NOTICE, "--attach", str(pdf), "--to", "building:SDDJ-1", db=db_url
    )
    documents = {tuple(r.payload["document"].items()) for r in bulk_rows(db_url)}
    [document] = [dict(d) for d in documents]
    assert document["name"] == "关于法治进小区的通知.pdf"
    stored = FileStore(tmp_path / "files").path(document["ref"])
    assert stored.read_bytes() == pdf.read_bytes()


def test_send_with_a_file_that_is_no_document_exits_with_the_reason(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINLI_FILES_DIR", str(tmp_path / "files"))
    fake = tmp_path / "通知.pdf"
    fake.write_bytes(b"MZ\x90\x00")
    with pytest.raises(SystemExit) as exited:
        main(
            ["broadcast", "send", "--text", NOTICE, "--attach", str(fake), "--to", "all"]
            + ["--db", db_url]
        )
    assert "无法识别" in str(exited.value.code)
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "broadcast",
                "send",
                "--text",
                NOTICE,
                "--attach",
                str(tmp_path / "none.pdf"),
                "--to",
                "all",
                "--db",
                db_url,
            ]
        )
    assert "cannot read" in str(exited.value.code)
    assert bulk_rows(db_url) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("compound:NOPE", "no compound NOPE"),
        ("building:SDDJ-9", "no building SDDJ-9"),
        ("street:SDDJ", "target 'street:SDDJ'"),
    ],
)
def test_send_to_an_unknown_target_exits_with_the_reason(
    db_url: str, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["broadcast", "send", "--text", NOTICE, "--to", target, "--db", db_url])
    assert message in str(exited.value.code)
    assert capsys.readouterr().out == ""
    assert bulk_rows(db_url) == []


def test_send_needs_some_text(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["broadcast", "send", "--text", "  ", "--to", "compound:SDDJ", "--db", db_url])
    assert "--text" in str(exited.value.code)


def test_at_without_a_time_zone_is_refused(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "broadcast",
                "send",
                "--text",
                NOTICE,
                "--to",
                "compound:SDDJ",
                "--at",
                "2030-01-01T09:00",
                "--db",
                db_url,
            ]
        )
    assert "time zone" in str(exited.value.code)


def test_scheduled_send_waits_and_can_be_cancelled(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    at = (utcnow() + timedelta(days=1)).isoformat()
    scheduled = run(
        capsys, "send", "--text", NOTICE, "--to", "building:SDDJ-1", "--at", at, db=db_url
    )
    assert scheduled["status"] == "scheduled" and scheduled["recipients"] == 0
    assert scheduled["started_at"] is None
    assert bulk_rows(db_url) == []

    cancelled = run(capsys, "cancel", str(scheduled["id"]), db=db_url)
    assert cancelled["id"] == scheduled["id"] and cancelled["status"] == "cancelled"
    assert cancelled["finished_at"] is not None
    status = run(capsys, "status", str(scheduled["id"]), "--json", db=db_url)
    assert status["status"] == "cancelled"

    with pytest.raises(SystemExit) as exited:  # a second cancel: nothing to cancel
        main(["broadcast", "cancel", str(scheduled["id"]), "--db", db_url])
    assert "cannot be cancelled" in str(exited.value.code)


def test_started_broadcast_cannot_be_cancelled(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = run(capsys, "send", "--text", NOTICE, "--to", "building:SDDJ-1", db=db_url)
    with pytest.raises(SystemExit) as exited:
        main(["broadcast", "cancel", str(sent["id"]), "--db", db_url])
    assert "sending" in str(exited.value.code)
    assert {r.status for r in bulk_rows(db_url)} == {OutboxStatus.PENDING}


def test_status_of_an_unknown_broadcast_fails(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["broadcast", "status", "999", "--db", db_url]) == 1
    assert "no broadcast 999" in capsys.readouterr().err


def test_quiz_campaign_sends_the_first_question(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quiz = run(capsys, "quiz", "--to", "building:SDDJ-1", "--questions", "3", db=db_url)
    assert quiz["kind"] == "quiz" and quiz["status"] == "sending" and quiz["recipients"] == 4
    rows = bulk_rows(db_url)
    assert len(rows) == 4
    for row in rows:
        assert row.payload["key"] == "quiz.question" and "第 1/3 题" in row.payload["text"]
        assert row.payload["buttons"]
