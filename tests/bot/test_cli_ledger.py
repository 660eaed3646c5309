"""``linli stats`` and ``linli ledger export|evaluation`` on a SQLite file holding the
hand-built ledger (tests/ledger_cases.py): the JSON equals the workbook's statistics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.storage.db import Database
from handlers import charts
from handlers.ledger_export import MONTH_FIELDS
from tests.databases import seed_demo_file
from tests.ledger_cases import build_ledger

FILTERS = ("--from", "2026-03-01", "--to", "2026-04-30", "--compound", "SDDJ")


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ledger')}/linli.db"

    async def prepare() -> None:
        await seed_demo_file(url)
        db = Database(url)
        try:
            await build_ledger(db)
        finally:
            await db.dispose()

    asyncio.run(prepare())
    return url


def stats_json(capsys: pytest.CaptureFixture[str], db: str, *args: str) -> dict[str, Any]:
    assert main(["stats", "--json", *args, "--db", db]) == 0
    return json.loads(capsys.readouterr().out)


def test_stats_json_equals_the_statistics_sheet_of_the_exported_workbook(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = stats_json(capsys, db_url, *FILTERS)
    assert stats["compounds"] == ["SDDJ"] and stats["total"]["cases"] == 5
    out = tmp_path / "ledger.xlsx"
    assert main(["ledger", "export", "--out", str(out), *FILTERS, "--db", db_url]) == 0
    assert "5 cases, 16 events" in capsys.readouterr().out
    rows = list(load_workbook(out)["月度统计"].iter_rows(values_only=True))[1:]
    assert len(rows) == len(stats["months"]) == 2
    for row, month in zip(rows, stats["months"], strict=True):
        assert row[:2] == (month["month"], month["compound"])
        assert list(row[2 : 2 + len(MONTH_FIELDS)]) == [month[f] for f in MONTH_FIELDS]
    people = {r[0]: r for r in list(load_workbook(out)["三维考评"].iter_rows(values_only=True))[1:]}
    for handler in stats["handlers"]:
        row = people[handler["name"]]
        assert (row[3], row[4], row[5], row[6]) == (
            handler["cases_led"],
            handler["resolved"],
            handler["on_time"],
            handler["on_time_rate"],
        )
        assert row[10] == handler["satisfaction_score"]


def test_stats_text_lists_months_and_handlers(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", *FILTERS, "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "2026-03  SDDJ" in out and "total" in out and "王志强" in out


def test_stats_charts_writes_png_files(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        charts.chinese_font()
    except charts.NoChineseFont:
        pytest.skip(f"no CJK font on this machine (apt-get install {charts.FONT_PACKAGE})")
    assert main(["stats", "--charts", str(tmp_path / "charts"), "--db", db_url]) == 0
    written = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert written == sorted(f"{name}.png" for name in charts.CHART_FILES)
    for path in (tmp_path / "charts").iterdir():
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000


def test_charts_without_a_chinese_font_fail_naming_the_package_and_stats_still_print(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> tuple[str, str]:
        raise charts.NoChineseFont()

    monkeypatch.setattr(charts, "chinese_font", missing)
    assert main(["stats", "--charts", str(tmp_path / "charts"), "--db", db_url]) == 1
    captured = capsys.readouterr()
    assert "total" in captured.out
    assert "fonts-wqy-microhei" in captured.err


def test_evaluation_command_writes_the_sheet_for_the_branch(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kaoping.xlsx"
    assert main(["ledger", "evaluation", "--out", str(out), *FILTERS, "--db", db_url]) == 0
    assert "3 people" in capsys.readouterr().out
    book = load_workbook(out)
    assert book.sheetnames == ["三维考评"]
    assert book.active is not None


def test_unknown_compound_and_bad_dates_are_refused(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit, match="no compound with code NOPE"):
        main(["stats", "--compound", "NOPE", "--db", db_url])
    with pytest.raises(SystemExit):
        main(["stats", "--from", "2026-13-01", "--db", db_url])
    assert "not a date" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--from is after --to"):
        main(["stats", "--from", "2026-05-01", "--to", "2026-04-01", "--db", db_url])
