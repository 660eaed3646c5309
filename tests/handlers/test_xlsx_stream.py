"""The workbook adapter on its own: text that looks like a formula stays text, formulas
are recalculated on opening, and a failed export leaves neither file nor scratch files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from handlers.xlsx_stream import DATETIME, Column, Formula, StreamingWorkbook


def test_text_starting_with_equals_stays_text_and_formulas_are_formulas(tmp_path: Path) -> None:
    out = tmp_path / "book.xlsx"
    with StreamingWorkbook(out) as book:
        table = book.sheet(
            "a/b", [Column("text", 10), Column("sum", 8), Column("at", 17, DATETIME)]
        )
        table.append(['=HYPERLINK("http://x")', Formula("=1+1"), datetime(2026, 3, 1, 9, 30)])
    sheet = load_workbook(out)["a_b"]
    assert sheet["A2"].data_type == "s" and sheet["A2"].value == '=HYPERLINK("http://x")'
    assert sheet["B2"].data_type == "f" and sheet["B2"].value == "=1+1"
    assert sheet["C2"].value == datetime(2026, 3, 1, 9, 30)
    assert sheet.auto_filter.ref == "A1:C2" and sheet.print_title_rows == "$1:$1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]


def test_aware_times_are_refused_and_a_failed_export_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError), StreamingWorkbook(tmp_path / "book.xlsx") as book:
        book.sheet("s", [Column("at", 17, DATETIME)]).append([datetime.now(UTC)])
    assert list(tmp_path.iterdir()) == []


def test_a_closed_sheet_takes_no_more_rows(tmp_path: Path) -> None:
    with StreamingWorkbook(tmp_path / "book.xlsx") as book:
        first = book.sheet("one", [Column("x", 5)])
        book.sheet("two", [Column("y", 5)])
        with pytest.raises(RuntimeError, match="closed"):
            first.append(["late"])
