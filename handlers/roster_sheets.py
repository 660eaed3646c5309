"""The roster file format: its tables and columns, and reading CSV or XLSX into rows of text.

Operators fill the roster in Excel or WPS, so the reader forgives what spreadsheets
are known to do: headers in Chinese or English with stray spaces, a ``*`` or a hint in
brackets, numbers that come back as ``3.0``, GBK-encoded CSV (what Excel saves on a
Chinese Windows). It is strict where carelessness would lose data silently: an unknown
column is a problem (a misspelt 手机号 must not drop every phone number), and so is a
cell that Excel has turned into a date (``1-6`` typed into a general cell). Checking
the values is ``handlers.roster``'s work.

An XLSX workbook has one sheet per table (``小区``, ``楼栋``, ``人员`` or their English
names; other sheets, such as the template's instructions, are ignored). A CSV file holds
all three tables in one, with a ``类型`` column naming the table of each row.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path


@dataclass(frozen=True)
class Column:
    name: str  # the id used in code, JSON reports and English headers
    label: str  # the header the templates use
    required: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_COMPOUND = Column("compound", "小区代码", True, ("小区", "compound_code", "code"))
_BUILDING = Column("building", "楼栋号", False, ("楼栋", "楼号", "栋"))

COMPOUNDS = Table(
    "compounds",
    "小区",
    (
        _COMPOUND,
        Column("compound_name", "小区名称", True, ("名称",)),
        Column("district", "所在地区", False, ("地区", "区域", "地址")),
    ),
    ("compound", "小区信息"),
)
BUILDINGS = Table(
    "buildings",
    "楼栋",
    (
        _COMPOUND,
        Column(_BUILDING.name, _BUILDING.label, True, _BUILDING.aliases),
        Column("building_name", "楼栋名称", False),
        Column("units", "单元数", True),
        Column("floors", "层数", True, ("楼层数",)),
        Column("rooms_per_floor", "每层户数", True, ("每层住户数", "户数")),
    ),
    ("building", "楼栋信息"),
)
PEOPLE = Table(
    "people",
    "人员",
    (
        Column("key", "编号", True, ("人员编号",)),
        Column("name", "姓名", False),
        Column("phone", "手机号", False, ("手机", "电话", "联系电话", "手机号码")),
        Column("telegram_id", "Telegram ID", False, ("telegram", "tg", "tgid")),
        _COMPOUND,
        Column("role", "角色", True, ("职务", "身份")),
        _BUILDING,
        Column("floor_range", "负责楼层", False, ("楼层", "责任楼层")),
        Column("home", "住址", False, ("房号", "家庭住址", "住房")),
        Column("relation", "与房屋关系", False, ("关系", "房屋关系")),
    ),
    ("person", "人员名单", "名单"),
)
TABLES = (COMPOUNDS, BUILDINGS, PEOPLE)
KIND = Column("kind", "类型", True, ("表", "type", "sheet"))

# Cells the templates format as text so Excel keeps 13-18, 1-1-502 and long numbers as typed.
TEXT_COLUMNS = frozenset({"compound", "phone", "telegram_id", "floor_range", "home", "key"})


def csv_columns() -> tuple[Column, ...]:
    """The CSV form's columns: the kind, then every table's columns once, in table order."""
    seen: dict[str, Column] = {}
    for table in TABLES:
        for column in table.columns:
            seen.setdefault(column.name, column)
    return (KIND, *seen.values())


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, where the operator will find it in Excel."""

    sheet: str  # the sheet's title as in the file; for CSV the file's name
    row: int  # spreadsheet row (1 = the header); 0 = about the sheet or file as a whole
    column: str  # the header as written (or as it should be written); "" = the whole row
    message: str
    cell: str = ""  # e.g. "F7"
    column_id: str = ""  # the column's id (``role``), whatever the header says

    def __str__(self) -> str:
        where = self.sheet or "file"
        if self.row:
            where += f" row {self.row}"
        if self.column:
            where += f", column {self.column}"
        if self.cell:
            where += f" ({self.cell})"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "cell": self.cell,
            "column_id": self.column_id,
            "message": self.message,
        }


@dataclass
class SheetRow:
    """One data row: its cells as text by column id, and where to point at them."""

    sheet: str
    table: str
    row: int
    cells: dict[str, str]
    headers: dict[str, tuple[str, str]]  # column id → (header as written, column letter)
    reported: set[str] = field(default_factory=set)  # columns the reader already complained of

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def problem(self, column: str, message: str) -> Problem:
        if not column:
            return Problem(self.sheet, self.row, "", message)
        header, letter = self.headers.get(column, (_label(column), ""))
        cell = f"{letter}{self.row}" if letter else ""
        return Problem(self.sheet, self.row, header, message, cell, column)


@dataclass
class Tables:
    rows: dict[str, list[SheetRow]] = field(default_factory=lambda: {t.name: [] for t in TABLES})
    problems: list[Problem] = field(default_factory=list)


def read_tables(path: Path) -> Tables:
    """Read a ``.xlsx`` or ``.csv`` roster; problems with its shape come back in ``problems``."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as error:
        return Tables(problems=[Problem(path.name, 0, "", f"cannot read the file: {error}")])
    if suffix == ".xlsx":
        return read_xlsx(data, path.name)
    if suffix == ".csv":
        return read_csv(data, path.name)
    return Tables(
        problems=[Problem(path.name, 0, "", "the roster must be an .xlsx workbook or a .csv file")]
    )


# -- XLSX --------------------------------------------------------------------------
def read_xlsx(data: bytes, name: str = "roster.xlsx") -> Tables:
    from openpyxl import load_workbook

    out = Tables()
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zip, XML and key errors alike
        out.problems.append(Problem(name, 0, "", f"cannot read the workbook: {error}"))
        return out
    try:
        found: dict[str, str] = {}
        for sheet in book.worksheets:
            table = _table_named(sheet.title)
            if table is None:
                continue
            if table.name in found:
                out.problems.append(
                    Problem(
                        sheet.title,
                        0,
                        "",
                        f"a second sheet for {table.label} ({table.name}); "
                        f"the first is {found[table.name]!r}",
                    )
                )
                continue
            found[table.name] = sheet.title
            grid = [list(r) for r in sheet.iter_rows(values_only=True)]
            _read_grid(out, sheet.title, grid, table)
        for table in TABLES:
            if table.name not in found:
                out.problems.append(
                    Problem(
                        name,
                        0,
                        "",
                        f"no sheet named {table.label} ({table.name}); "
                        "keep the template's sheets, even when one is empty",
                    )
                )
    finally:
        book.close()
    return out


def _read_grid(out: Tables, sheet: str, grid: list[list[object]], table: Table) -> None:
    if not grid:
        return
    headers = _headers(out, sheet, grid[0], {c.name: c for c in table.columns})
    if headers is None:
        return
    for column in table.columns:
        if column.required and column.name not in headers:
            out.problems.append(
                Problem(sheet, 1, column.label, f"the required column {column.label} is missing")
            )
    for number, values in enumerate(grid[1:], start=2):
        row = _row(out, sheet, table.name, number, values, headers)
        if row is not None:
            out.rows[table.name].append(row)


# -- CSV ---------------------------------------------------------------------------
def read_csv(data: bytes, name: str = "roster.csv") -> Tables:
    out = Tables()
    text = _decode(data)
    if not text.strip():
        out.problems.append(Problem(name, 0, "", "the file is empty"))
        return out
    first_line = text.splitlines()[0]
    delimiter = max(",\t;", key=first_line.count)
    grid: list[list[object]] = [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    known = {c.name: c for c in csv_columns()}
    headers = _headers(out, name, grid[0], known)
    if headers is None:
        return out
    if KIND.name not in headers:
        out.problems.append(
            Problem(name, 1, KIND.label, "the required column 类型 (kind) is missing")
        )
        return out
    present: set[str] = set()
    for number, values in enumerate(grid[1:], start=2):
        row = _row(out, name, "", number, values, headers)
        if row is None:
            continue
        table = _table_named(row.get(KIND.name))
        if table is None:
            out.problems.append(
                row.problem(
                    KIND.name,
                    f"unknown kind {row.get(KIND.name)!r}; write 小区, 楼栋 or 人员",
                )
            )
            continue
        row.table = table.name
        names = {c.name for c in table.columns}
        for column, value in row.cells.items():
            if value and column != KIND.name and column not in names:
                out.problems.append(
                    row.problem(column, f"{table.label} rows leave this column empty")
                )
                row.reported.add(column)
        present.add(table.name)
        out.rows[table.name].append(row)
    for table in TABLES:
        if table.name not in present:
            continue
        for column in table.columns:
            if column.required and column.name not in headers:
                out.problems.append(
                    Problem(
                        name, 1, column.label, f"{table.label} rows need the column {column.label}"
                    )
                )
    return out


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text"), else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


# -- shared ------------------------------------------------------------------------
def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"\(.*?\)$", "", text).strip()  # "负责楼层(如13-18)"
    return re.sub(r"[\s_\-*]", "", text)


def _table_named(title: str) -> Table | None:
    wanted = _normalise(title)
    for table in TABLES:
        if wanted in {_normalise(n) for n in (table.name, table.label, *table.aliases)}:
            return table
    return None


def _label(column: str) -> str:
    for candidate in csv_columns():
        if candidate.name == column:
            return candidate.label
    return column


def _is_note(header: str) -> bool:
    return header.startswith(("备注", "说明", "note", "remark", "comment"))


def _headers(
    out: Tables, sheet: str, values: list[object], known: dict[str, Column]
) -> dict[str, tuple[str, str]] | None:
    lookup: dict[str, str] = {}
    for column in known.values():
        for spelling in (column.name, column.label, *column.aliases):
            lookup[_normalise(spelling)] = column.name
    headers: dict[str, tuple[str, str]] = {}
    for index, value in enumerate(values):
        written = _cell_text(value).strip()
        header = _normalise(written)
        if not header or _is_note(header):
            continue
        letter = column_letter(index)
        column = lookup.get(header)
        if column is None:
            expected = "、".join(c.label for c in known.values())
            out.problems.append(
                Problem(
                    sheet, 1, written, f"unknown column; the columns are {expected}", f"{letter}1"
                )
            )
        elif column in headers:
            out.problems.append(
                Problem(sheet, 1, written, f"a second {known[column].label} column", f"{letter}1")
            )
        else:
            headers[column] = (written, letter)
    if not headers:
        out.problems.append(Problem(sheet, 1, "", "the first row must hold the column headers"))
        return None
    return headers


def _row(
    out: Tables,
    sheet: str,
    table: str,
    number: int,
    values: list[object],
    headers: dict[str, tuple[str, str]],
) -> SheetRow | None:
    positions = {letter: column for column, (_, letter) in headers.items()}
    cells: dict[str, str] = {}
    dates: list[str] = []
    for index, value in enumerate(values):
        column = positions.get(column_letter(index))
        if column is None:
            continue
        if isinstance(value, datetime | date | time):
            dates.append(column)
            cells[column] = str(value)
        else:
            cells[column] = _cell_text(value).strip()
    if not any(cells.values()):
        return None
    row = SheetRow(sheet, table, number, cells, headers)
    for column in dates:
        out.problems.append(
            row.problem(
                column,
                "Excel turned this cell into a date; format the column as text (文本) "
                "and type the value again",
            )
        )
        row.reported.add(column)
    return row


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def column_letter(index: int) -> str:
    """Spreadsheet column letters for a 0-based index: 0 → A, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
