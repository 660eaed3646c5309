"""The ledger's few spreadsheet needs, on XlsxWriter in ``constant_memory`` mode.

Why XlsxWriter: openpyxl's write-only mode builds a cell object and an XML element per cell
(90 s for 100,000 cases; issue 8 asks for < 60 s). XlsxWriter takes about 5 µs a cell
(58–60 s, see README) and writes each finished row to a temporary file with inline strings,
so memory stays flat whatever the size of the ledger.
Its one rule in that mode — rows of a sheet are written in order — is how the export
streams anyway. This module keeps the ledger's layout in one place (bold frozen header,
column widths, a filter over the data, landscape pages one sheet wide with the header on
every page) so ``ledger_export`` and ``evaluation`` only say which columns and rows.

Usage::

    with StreamingWorkbook(Path("ledger.xlsx")) as book:
        table = book.sheet("报事台账", [Column("编号", 20), Column("报事时间", 17, DATETIME)])
        table.append(["SDDJ-2026-000001", datetime(2026, 3, 1, 9, 30)])
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

DATETIME = "yyyy-mm-dd hh:mm"
PERCENT = "0.0%"
DECIMAL = "0.0"
HEADER_STYLE = {"bold": True, "bg_color": "#DDEBF7", "valign": "vcenter", "text_wrap": True}
A4 = 9  # XlsxWriter's paper code
# Characters a sheet name may not hold (XlsxWriter refuses them rather than replacing).
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    number_format: str | None = None


@dataclass(frozen=True)
class Formula:
    """A formula cell. A separate type, not "a string starting with '='", so that text a
    resident typed (a comment, a report) can never become a live formula in the ledger.
    ``value`` is the result stored with the formula; XlsxWriter's default, 0, is what
    LibreOffice shows without recalculating, while a blank makes it recalculate."""

    expression: str
    value: str | float = ""


def local_naive(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Spreadsheets have no time zones: a time is shown as the compound's wall clock."""
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None)


class SheetTable:
    """One sheet being written: the header is row 1, every ``append`` adds a row."""

    def __init__(
        self, book: StreamingWorkbook, sheet: Worksheet, columns: Sequence[Column]
    ) -> None:
        self.title = sheet.get_name()
        self.columns = list(columns)
        self.rows = 0
        self.closed = False
        self._sheet = sheet
        self._formats = [book.number_format(c.number_format) for c in self.columns]
        header = book.header_format
        for index, column in enumerate(self.columns):
            sheet.set_column(index, index, column.width)
            sheet.write_string(0, index, column.header, header)
        sheet.freeze_panes(1, 0)
        sheet.repeat_rows(0)
        sheet.set_landscape()
        sheet.set_paper(A4)
        sheet.fit_to_pages(1, 0)
        sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)

    def append(self, values: Sequence[Any]) -> None:
        """Writes one row; ``None``, "" and non-finite numbers leave the cell empty."""
        if self.closed:
            raise RuntimeError(f"sheet {self.title!r} is closed")
        self.rows += 1
        row = self.rows
        sheet = self._sheet
        for col, (fmt, value) in enumerate(zip(self._formats, values, strict=False)):
            if value is None:
                continue
            if isinstance(value, str):
                if value:
                    sheet.write_string(row, col, value, fmt)
            elif isinstance(value, bool):
                sheet.write_boolean(row, col, value, fmt)
            elif isinstance(value, int | float):
                if math.isfinite(value):
                    sheet.write_number(row, col, value, fmt)
            elif isinstance(value, datetime | date):
                # XlsxWriter refuses aware times; ``local_naive`` makes them wall-clock.
                sheet.write_datetime(row, col, value, fmt)
            elif isinstance(value, Formula):
                sheet.write_formula(row, col, value.expression, fmt, value.value)
            else:
                raise TypeError(f"cannot write {type(value).__name__} to a spreadsheet cell")

    def close(self) -> None:
        """The filter covers the header and every data row, known only now."""
        if self.closed:
            return
        self._sheet.autofilter(0, 0, self.rows, len(self.columns) - 1)
        self.closed = True


class StreamingWorkbook:
    """Sheets are written one at a time, in order. XlsxWriter builds the file at ``close``
    from temporary files; both live in a private directory beside the output, which is
    moved into place only when complete (a failed export leaves nothing behind)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Beside the output, not in /tmp: the row files reach hundreds of MB and /tmp may
        # be a RAM disk.
        self._scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        self._book = Workbook(
            str(self._scratch / path.name),
            {"constant_memory": True, "tmpdir": str(self._scratch)},
        )
        self.header_format: Format = self._book.add_format(HEADER_STYLE)
        self._formats: dict[str, Format] = {}
        self.sheets: list[SheetTable] = []

    def __enter__(self) -> StreamingWorkbook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        # XlsxWriter has no "abandon": closing releases its temporary files' handles.
        with suppress(Exception):
            self._book.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def number_format(self, code: str | None) -> Format | None:
        if code is None:
            return None
        if code not in self._formats:
            self._formats[code] = self._book.add_format({"num_format": code})
        return self._formats[code]

    def sheet(self, title: str, columns: Sequence[Column]) -> SheetTable:
        if self.sheets:
            self.sheets[-1].close()
        worksheet = self._book.add_worksheet(_SHEET_NAME.sub("_", title)[:31])
        table = SheetTable(self, worksheet, columns)
        self.sheets.append(table)
        return table

    def close(self) -> None:
        for table in self.sheets:
            table.close()
        try:
            self._book.close()
            os.replace(self._scratch / self.path.name, self.path)
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)
