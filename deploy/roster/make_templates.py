"""Write the roster templates and the sample roster beside this file.

    python deploy/roster/make_templates.py [OUT_DIR]

The headers come from ``handlers.roster_sheets``, the module that reads them back, so a
template can never drift from what ``linli roster import`` accepts; a test checks that
the committed files hold what this script writes.

Files: ``roster_template.xlsx`` and ``roster_template.csv`` (headers, and in the
workbook an instructions sheet, drop-down lists and text-formatted columns so Excel
keeps ``13-18`` and phone numbers as typed) and ``sample_roster.xlsx`` /
``sample_roster.csv``: 滨江花园, a small compound in 洪雅县 with three buildings.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from handlers.roster_sheets import KIND, TABLES, TEXT_COLUMNS, Table, csv_columns

HERE = Path(__file__).resolve().parent
FIXED_TIME = datetime(2026, 11, 25, 8, 0)  # document properties, so rewrites differ in nothing
TEMPLATE_ROWS = 500  # rows pre-formatted as text in the empty template
ROLE_CHOICES = "居民,党员,楼栋长,书记,业委会,物业,调解员,网格员,民警,志愿者,管理员"
RELATION_CHOICES = "业主,租户,家属"
WIDTHS = {"compound_name": 18, "district": 28, "name": 10, "home": 12, "telegram_id": 14}

HELP: list[tuple[str, str]] = [
    ("邻里 · 小区名单导入模板", ""),
    ("", ""),
    ("用法", "填好「小区」「楼栋」「人员」三张表，运行 linli roster import 本文件.xlsx"),
    ("", "任何一行有错，整个文件都不导入，并按 表/行/列 列出全部问题；改好后重新导入即可。"),
    ("", "同一文件可以反复导入：按小区代码、楼栋号、人员编号更新，不会重复创建。"),
    ("", "第一行是表头，请勿改动；带 * 的列必填。本「说明」表不会被导入。"),
    ("", ""),
    ("小区", ""),
    ("小区代码 *", "2–16 位大写字母或数字，如 HYBJ；用于报事编号（HYBJ-2026-000001）和邀请码"),
    ("小区名称 *", "如 滨江花园"),
    ("所在地区", "如 四川省眉山市洪雅县洪川镇"),
    ("", ""),
    ("楼栋", ""),
    ("小区代码 *", "该楼栋所属小区，须在「小区」表中"),
    ("楼栋号 *", "数字，如 1（即 1栋）"),
    ("楼栋名称", "默认为「1栋」"),
    ("单元数 * / 层数 * / 每层户数 *", "按此生成房号：1502 = 15 层 02 户"),
    ("", ""),
    ("人员", "每人每个职责一行；同一人有多个职责（如楼栋长兼楼层党员）就写多行，编号相同"),
    ("编号 *", "每人唯一，如 L01 或身份证后几位；重新导入时据此更新同一个人"),
    ("姓名", "同一编号的第一行必填，后面几行可留空"),
    ("手机号", "11 位手机号或带区号的座机"),
    ("Telegram ID", "数字；填写后此人无需邀请码即可通过 Telegram 收到工作通知"),
    ("小区代码 *", "此人所在小区（管理员也写一个小区，其职责覆盖全部小区）"),
    ("角色 *", f"{ROLE_CHOICES}（或英文 resident、floor_member 等）"),
    ("楼栋号", "楼栋长、党员必填：负责的楼栋；物业、网格员等可填以限定范围"),
    ("负责楼层", "党员必填，如 1-6（党员责任区，同一楼栋的责任区不可重叠）"),
    ("住址", "楼栋-单元-房号，如 1-2-1502；居民必填"),
    ("与房屋关系", f"{RELATION_CHOICES}；不填默认业主"),
    ("", ""),
    ("导入之后", "每人生成一个专属邀请码，每户生成一个家庭成员邀请码；"),
    ("", "linli invites export --out 目录 为每个邀请码生成一张二维码图片和 index.csv 清单。"),
]

COMPOUNDS = [
    {"compound": "HYBJ", "compound_name": "滨江花园", "district": "四川省眉山市洪雅县洪川镇"},
]
BUILDINGS = [
    {"compound": "HYBJ", "building": 1, "units": 2, "floors": 11, "rooms_per_floor": 2},
    {"compound": "HYBJ", "building": 2, "units": 2, "floors": 11, "rooms_per_floor": 2},
    {"compound": "HYBJ", "building": 3, "units": 1, "floors": 7, "rooms_per_floor": 3},
]
PEOPLE: list[dict[str, object]] = [
    {"key": "S01", "name": "李淑芬", "phone": "13890330001", "role": "书记", "home": "2-1-601"},
    {
        "key": "L01",
        "name": "王建国",
        "phone": "13890330002",
        "telegram_id": "700000001",
        "role": "楼栋长",
        "building": 1,
        "home": "1-1-902",
    },
    {"key": "L01", "role": "党员", "building": 1, "floor_range": "7-11"},
    {"key": "L02", "name": "张德明", "role": "楼栋长", "building": 2, "home": "2-2-501"},
    {"key": "L03", "name": "刘桂兰", "role": "楼栋长", "building": 3, "home": "3-1-302"},
    {
        "key": "P01",
        "name": "陈志刚",
        "phone": "13890330011",
        "role": "党员",
        "building": 1,
        "floor_range": "1-6",
        "home": "1-2-401",
    },
    {"key": "P02", "name": "杨秀珍", "role": "党员", "building": 2, "floor_range": "1-6"},
    {
        "key": "P03",
        "name": "赵卫东",
        "telegram_id": "700000002",
        "role": "党员",
        "building": 2,
        "floor_range": "7-11",
    },
    {"key": "P04", "name": "周红", "role": "党员", "building": 3, "floor_range": "1-7"},
    {"key": "C01", "name": "黄文", "role": "业委会", "home": "1-1-1101"},
    {"key": "W01", "name": "吴强", "phone": "08333712345", "role": "物业"},
    {"key": "M01", "name": "郑玉兰", "role": "调解员"},
    {"key": "G01", "name": "孙丽", "phone": "13890330021", "role": "网格员"},
    {"key": "J01", "name": "马超", "role": "民警"},
    {"key": "V01", "name": "何静", "phone": "13890330031", "role": "志愿者"},
    {"key": "R01", "name": "罗秀英", "role": "居民", "home": "1-1-502", "relation": "业主"},
    {"key": "R02", "name": "谢明", "role": "居民", "home": "1-1-602", "relation": "租户"},
    {"key": "R03", "name": "谢小雨", "role": "居民", "home": "1-1-602", "relation": "家属"},
    {"key": "R04", "name": "冯军", "phone": "13890330041", "role": "居民", "home": "3-1-101"},
    {"key": "A01", "name": "林敏", "role": "管理员"},
]
SAMPLE = {"compounds": COMPOUNDS, "buildings": BUILDINGS, "people": PEOPLE}
for _row in PEOPLE:
    _row.setdefault("compound", "HYBJ")


def _header(sheet: Worksheet, table: Table) -> None:
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, column in enumerate(table.columns, start=1):
        cell = sheet.cell(
            row=1, column=index, value=column.label + (" *" if column.required else "")
        )
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = WIDTHS.get(column.name, 12)
    sheet.freeze_panes = "A2"


def _text_cells(sheet: Worksheet, table: Table, rows: int) -> None:
    for index, column in enumerate(table.columns, start=1):
        if column.name in TEXT_COLUMNS:
            for row in range(2, rows + 2):
                sheet.cell(row=row, column=index).number_format = "@"


def _choices(sheet: Worksheet, table: Table, rows: int) -> None:
    for name, choices in (("role", ROLE_CHOICES), ("relation", RELATION_CHOICES)):
        if not any(c.name == name for c in table.columns):
            continue
        index = next(i for i, c in enumerate(table.columns, start=1) if c.name == name)
        letter = get_column_letter(index)
        # Not strict: English role ids are accepted too, and checked by the import.
        rule = DataValidation(type="list", formula1=f'"{choices}"', showErrorMessage=False)
        rule.add(f"{letter}2:{letter}{rows + 1}")
        sheet.add_data_validation(rule)


def workbook(data: dict[str, list[dict[str, object]]] | None) -> Workbook:
    book = Workbook()
    guide = book.active
    assert guide is not None
    guide.title = "说明"
    for row in HELP:
        guide.append(list(row))
    guide.column_dimensions["A"].width = 30
    guide.column_dimensions["B"].width = 90
    guide["A1"].font = Font(bold=True, size=14)
    for table in TABLES:
        sheet = book.create_sheet(table.label)
        _header(sheet, table)
        rows = data[table.name] if data else []
        for values in rows:
            sheet.append([values.get(c.name) for c in table.columns])
        formatted = max(len(rows), TEMPLATE_ROWS if data is None else len(rows))
        _text_cells(sheet, table, formatted)
        _choices(sheet, table, max(formatted, TEMPLATE_ROWS))
    book.properties.creator = "linli"
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    return book


def csv_text(data: dict[str, list[dict[str, object]]] | None) -> str:
    columns = csv_columns()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in columns])
    for table in TABLES:
        for values in (data or {}).get(table.name, []):
            writer.writerow([table.label if c is KIND else values.get(c.name, "") for c in columns])
    return out.getvalue()


def outputs() -> dict[str, Workbook | str]:
    return {
        "roster_template.xlsx": workbook(None),
        "roster_template.csv": csv_text(None),
        "sample_roster.xlsx": workbook(SAMPLE),
        "sample_roster.csv": csv_text(SAMPLE),
    }


def main(out_dir: Path = HERE) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in outputs().items():
        path = out_dir / name
        if isinstance(content, str):
            # UTF-8 with BOM: Excel and WPS on Windows open it without garbling the Chinese.
            path.write_text(content, encoding="utf-8-sig", newline="")
        else:
            content.save(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
