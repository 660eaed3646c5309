"""The ledger workbook on the hand-built ledger (tests/ledger_cases.py), both databases:
its sheets, masking, real dates, layout, and statistics equal to ``compute_statistics``."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func, select, update

from bot.core.catalog import load_catalog
from bot.demo import seed_demo
from bot.storage.db import Database
from bot.storage.models import Case
from handlers.ledger_export import MONTH_FIELDS, ExportSummary, LedgerOptions, export_ledger
from handlers.statistics import Scope
from tests.ledger_cases import NOW, PERIOD, REPORTER_PHONE, build_ledger

SHEETS = ["报事台账", "办理记录", "月度统计", "事项统计", "三维考评"]


@pytest.fixture
async def ids(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        await seed_demo(session)
    return await build_ledger(db)


async def _export(db: Database, out: Path, ids: dict[str, int], **options: object) -> ExportSummary:
    values: dict[str, object] = {
        "period": PERIOD,
        "scope": Scope(compound_ids=(ids["sddj"],)),
        "now": NOW,
    }
    values.update(options)
    async with db.snapshot() as session:
        return await export_ledger(session, out, load_catalog(), LedgerOptions(**values))  # type: ignore[arg-type]


def _records(sheet: Worksheet) -> list[dict[str, object]]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_workbook_has_a_sheet_each_for_cases_events_statistics_and_evaluation(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    summary = await _export(db, tmp_path / "ledger.xlsx", ids)
    assert (summary.cases, summary.events) == (5, 16)
    book = load_workbook(summary.path)
    assert book.sheetnames == SHEETS
    cases = _records(book["报事台账"])
    assert [c["编号"] for c in cases] == [f"SDDJ-2026-{n:06d}" for n in range(1, 6)]
    first = cases[0]
    assert first["事项"] == "楼上漏水、渗水" and first["类别"] == "邻里纠纷"
    assert str(first["法律依据"]).startswith("《民法典》第二百八十八条")
    assert first["当前层级"] == "楼层（党员责任区）" and first["状态"] == "已关闭"
    assert first["负责人"] == "王志强" and first["协办人"] == "孙伟"
    assert first["用时（小时）"] == 24 and first["是否超时"] == "否"
    assert first["满意度"] == "满意" and first["评价留言"] == "处理及时，谢谢！"
    assert cases[1]["是否超时"] == "是" and cases[3]["是否超时"] == "是"  # by the clock; open late
    events = _records(book["办理记录"])
    assert [e["办理环节"] for e in events[:3]] == ["报事", "分派", "领办"]
    assert events[1]["操作人"] == "系统" and events[1]["负责人"] == "王志强"


async def test_personal_data_is_masked_unless_revealed(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    masked = load_workbook((await _export(db, tmp_path / "masked.xlsx", ids)).path)
    case = _records(masked["报事台账"])[0]
    assert (case["反映人"], case["联系电话"], case["地点"]) == (
        "张*英",
        "138****5678",
        "1栋1单元****",
    )
    events = _records(masked["办理记录"])
    report = events[0]
    assert report["操作人"] == "张*英" and REPORTER_PHONE not in str(report["说明"])
    assert "138****5678" in str(report["说明"])
    assert [e["操作人"] for e in events if e["办理环节"] == "附议"] == ["李*华"]
    assert [e["操作人"] for e in events if e["办理环节"] == "领办"] == ["王志强"]
    everything = "\n".join(
        str(v) for sheet in masked for row in sheet.iter_rows(values_only=True) for v in row
    )
    assert (
        REPORTER_PHONE not in everything and "张秀英" not in everything and "1502" not in everything
    )

    revealed = load_workbook((await _export(db, tmp_path / "open.xlsx", ids, reveal=True)).path)
    case = _records(revealed["报事台账"])[0]
    assert (case["反映人"], case["联系电话"], case["地点"]) == (
        "张秀英",
        REPORTER_PHONE,
        "1栋1单元1502",
    )
    assert REPORTER_PHONE in str(_records(revealed["办理记录"])[0]["说明"])


async def test_times_are_date_cells_in_local_time(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    book = load_workbook((await _export(db, tmp_path / "ledger.xlsx", ids)).path)
    sheet = book["报事台账"]
    cell = sheet["I4"]  # c3: reported 2026-04-01 07:00 Asia/Shanghai (03-31 23:00 UTC)
    assert sheet["I1"].value == "报事时间"
    assert cell.is_date and cell.value == datetime(2026, 4, 1, 7, 0)
    assert cell.number_format == "yyyy-mm-dd hh:mm"
    assert book["办理记录"]["B2"].is_date


async def test_every_sheet_has_a_frozen_header_a_filter_and_column_widths(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    book = load_workbook((await _export(db, tmp_path / "ledger.xlsx", ids)).path)
    for sheet in book:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}" + str(
            sheet.max_row
        ), sheet.title
        assert sheet["A1"].font.bold
        assert all(sheet.column_dimensions[c].width > 5 for c in "AB"), sheet.title
    # Legal basis: 40 characters as Excel shows it; the file stores it with the cell padding.
    assert 40 <= book["报事台账"].column_dimensions["E"].width < 41


async def test_statistics_sheet_has_the_numbers_of_compute_statistics(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    summary = await _export(db, tmp_path / "ledger.xlsx", ids)
    catalog = load_catalog()
    headers = {
        "cases": "报事数",
        "open": "未办结",
        "resolved": "已办结",
        "on_time": "按时办结",
        "on_time_rate": "按时办结率",
        "overdue": "超时",
        "avg_hours_to_resolve": "平均办结用时（小时）",
        "rated": "已评价",
        "satisfied": "满意",
        "satisfied_share": "满意率",
        "satisfaction_score": "满意度均分",
        "settled_at_home": "本级化解",
        "home_level_rate": "本级化解率（小事不出楼栋）",
        "escalated_cases": "上报件数",
        "escalations": "上报次数",
        "reopened": "重新办理",
    }
    assert set(headers) == set(MONTH_FIELDS)
    book = load_workbook(summary.path)
    sheet = list(book["月度统计"].iter_rows(values_only=True))
    expected = summary.statistics.as_dict()["months"]
    assert len(sheet) - 1 == len(expected) == 2
    for row, month in zip(sheet[1:], expected, strict=True):
        cells = dict(zip(sheet[0][:18], row[:18], strict=True))
        assert (cells["月份"], cells["小区"]) == (month["month"], month["compound"])
        for field, header in headers.items():
            assert cells[header] == month[field], (month["month"], field)
        levels = dict(zip(sheet[0][18:22], row[18:22], strict=True))
        assert levels[catalog.t("levels.floor")] == month["by_level"].get("floor", 0)
    assert sheet[1][4] == 2 and sheet[1][6] == 0.5  # March: 2 resolved, 50% on time
    matters = _records(book["事项统计"])
    assert {"月份": "2026-03", "小区": "SDDJ", "事项": "楼上漏水、渗水", "报事数": 2} in matters


async def test_evaluation_sheet_combines_the_scores_with_the_configured_weights(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    summary = await _export(db, tmp_path / "ledger.xlsx", ids, weights=(0.3, 0.7))
    sheet = load_workbook(summary.path)["三维考评"]
    people = {r["姓名"]: r for r in _records(sheet)}
    floor = people["王志强"]
    assert floor["职务"] == "党员责任区联系人" and floor["领办件数"] == 2
    assert floor["履职得分"] == 100 and floor["群众评价得分"] == 100
    assert floor["支部评价得分（待填）"] is None and floor["单位评价得分（待填）"] is None
    total = "综合得分（小区党组织30%＋单位70%）"
    assert total in floor
    assert str(floor[total]).startswith("=") and "*0.3+" in str(floor[total])
    assert "*0.7," in str(floor[total])
    assert "AVERAGE(H2,K2,L2)" in str(floor["小区党组织评价"])


async def test_a_snapshot_neither_blocks_writers_nor_sees_their_changes(
    db: Database, ids: dict[str, int]
) -> None:
    closed = select(func.count()).select_from(Case).where(Case.status == "closed")
    async with db.snapshot() as reader:
        assert await reader.scalar(closed) == 2
        async with asyncio.timeout(10), db.transaction() as writer:
            await writer.execute(update(Case).where(Case.id == ids["c4"]).values(status="closed"))
        assert await reader.scalar(closed) == 2  # the export's view does not move
    async with db.snapshot() as later:
        assert await later.scalar(closed) == 3


@pytest.mark.slow
async def test_libreoffice_opens_the_workbook_and_converts_it_to_pdf(
    db: Database, ids: dict[str, int], tmp_path: Path
) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    summary = await _export(db, tmp_path / "ledger.xlsx", ids)
    subprocess.run(
        [
            office,
            f"-env:UserInstallation=file://{tmp_path}/office-profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(summary.path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "ledger.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
