"""Roster import: every problem reported by sheet, row and column; nothing written on any
problem; re-import updates in place; personal invites tie a chat to the imported person."""

from __future__ import annotations

import csv
import importlib.util
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bot.app import App
from bot.channels.recording import RecordingChannel
from bot.storage.db import Database
from bot.storage.models import (
    Building,
    ChannelIdentity,
    Compound,
    Invite,
    ResponsibilityZone,
    RoleGrant,
    Room,
    User,
    utcnow,
)
from handlers.roster import Roster, load_roster, validate
from handlers.roster_import import ImportSummary, database_problems, import_roster
from handlers.roster_sheets import Problem, csv_columns, read_csv, read_xlsx
from tests.chat import CoreChat
from tests.conftest import settings_for

ROOT = Path(__file__).resolve().parents[2]
ROSTER_DIR = ROOT / "deploy" / "roster"
SAMPLE_XLSX = ROSTER_DIR / "sample_roster.xlsx"
SAMPLE_CSV = ROSTER_DIR / "sample_roster.csv"
HEADER = [c.label for c in csv_columns()]
ID_OF = {c.label: c.name for c in csv_columns()}

COMPOUND = {"类型": "小区", "小区代码": "HYJY", "小区名称": "洪雅家园"}
BUILDINGS = [
    {
        "类型": "楼栋",
        "小区代码": "HYJY",
        "楼栋号": "1",
        "单元数": "2",
        "层数": "11",
        "每层户数": "2",
    },
    {
        "类型": "楼栋",
        "小区代码": "HYJY",
        "楼栋号": "2",
        "单元数": "1",
        "层数": "6",
        "每层户数": "4",
    },
]


def person(key: str, role: str, **cells: str) -> dict[str, str]:
    return {
        "类型": "人员",
        "小区代码": "HYJY",
        "编号": key,
        "姓名": f"人{key}",
        "角色": role,
    } | cells


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def check(*people: dict[str, str]) -> tuple[Roster, list[Problem]]:
    tables = read_csv(csv_bytes([COMPOUND, *BUILDINGS, *people]), "r.csv")
    roster, problems = validate(tables)
    return roster, [*tables.problems, *problems]


def load_sample(path: Path = SAMPLE_XLSX) -> Roster:
    roster, problems = load_roster(path)
    assert problems == []
    return roster


# -- validation -----------------------------------------------------------------------
def _without_rows(roster: Roster) -> tuple[object, ...]:
    """What a roster says, leaving out where it said it (rows differ between the forms)."""
    return (
        [replace(c, row=0) for c in roster.compounds],
        [replace(b, row=0) for b in roster.buildings],
        [
            (p.key, p.name, p.phone, p.telegram_id, p.home, p.relation)
            + tuple(replace(d, row=0) for d in p.duties)
            for p in roster.people
        ],
    )


def test_sample_roster_is_clean_and_the_same_in_both_forms() -> None:
    from_xlsx, from_csv = load_sample(SAMPLE_XLSX), load_sample(SAMPLE_CSV)
    assert _without_rows(from_xlsx) == _without_rows(from_csv)
    leader = next(p for p in from_xlsx.people if p.key == "L01")
    assert [d.role for d in leader.duties] == ["building_leader", "floor_member"]
    assert leader.telegram_id == "700000001"


def test_a_clean_roster_has_no_problems() -> None:
    roster, problems = check(
        person("L1", "楼栋长", 楼栋号="1", 住址="1-2-1101"),
        person("P1", "党员", 楼栋号="1", 负责楼层="1-6"),
        person("P2", "floor_member", 楼栋号="1", 负责楼层="7至11"),
        person("R1", "居民", 住址="2-1-604", 与房屋关系="租户", 手机号="138 0013 8000"),
    )
    assert problems == []
    tenant = next(p for p in roster.people if p.key == "R1")
    assert (tenant.relation, tenant.phone, str(tenant.home)) == (
        "tenant",
        "13800138000",
        "HYJY 2-1-604",
    )


# (the row as CSV cells, the column the problem names, a fragment of its message)
PROBLEMS = {
    "unknown role": (person("X", "队长"), "角色", "unknown role"),
    "bad phone": (person("X", "居民", 住址="1-1-101", 手机号="1389033"), "手机号", "not a mobile"),
    "phone shortened by Excel": (
        person("X", "物业", 手机号="1.38903E+10"),
        "手机号",
        "shortened by Excel",
    ),
    "Telegram id not numeric": (
        person("X", "民警", **{"Telegram ID": "@bob"}),
        "Telegram ID",
        "number",
    ),
    "unknown compound": (
        person("X", "物业") | {"小区代码": "NOPE"},
        "小区代码",
        "unknown compound",
    ),
    "building outside the compound": (
        person("X", "楼栋长", 楼栋号="9"),
        "楼栋号",
        "has no building 9",
    ),
    "floor range outside the building": (
        person("X", "党员", 楼栋号="2", 负责楼层="5-8"),
        "负责楼层",
        "outside building 2",
    ),
    "home room that does not exist": (
        person("X", "居民", 住址="1-1-1203"),
        "住址",
        "no flat 1203",
    ),
    "unreadable home": (person("X", "居民", 住址="楼下"), "住址", "cannot read"),
    "resident without a home": (person("X", "居民"), "住址", "needs a flat"),
    "floor member without floors": (
        person("X", "党员", 楼栋号="1"),
        "负责楼层",
        "needs the floors",
    ),
    "building leader without a building": (person("X", "楼栋长"), "楼栋号", "answers for one"),
    "secretary limited to a building": (
        person("X", "书记", 楼栋号="1"),
        "楼栋号",
        "leave it empty",
    ),
    "floors for a role without zones": (
        person("X", "物业", 负责楼层="1-3"),
        "负责楼层",
        "only a floor_member",
    ),
    "unknown relation": (
        person("X", "居民", 住址="1-1-101", 与房屋关系="朋友"),
        "与房屋关系",
        "relation",
    ),
    "missing key": (person("", "物业"), "编号", "required"),
}


@pytest.mark.parametrize("case", PROBLEMS)
def test_each_kind_of_problem_names_its_row_and_column(case: str) -> None:
    row, column, fragment = PROBLEMS[case]
    _, problems = check(person("OK", "书记"), row)
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert (problem.sheet, problem.row, problem.column) == ("r.csv", 6, column)
    assert problem.cell == f"{_letter(column)}6"
    assert problem.column_id == ID_OF[column]
    assert fragment in problem.message


def _letter(label: str) -> str:
    return chr(ord("A") + HEADER.index(label))


def test_one_key_for_two_different_people_is_reported() -> None:
    _, problems = check(
        person("P1", "党员", 楼栋号="1", 负责楼层="1-6"),
        person("P1", "居民", 住址="1-1-502") | {"姓名": "别人"},
    )
    assert [(p.row, p.column) for p in problems] == [(6, "姓名")]
    assert "rows of one 编号 must agree" in problems[0].message


def test_overlapping_zones_are_reported_on_the_later_row() -> None:
    _, problems = check(
        person("P1", "党员", 楼栋号="1", 负责楼层="1-6"),
        person("P2", "党员", 楼栋号="1", 负责楼层="6-11"),
        person("P3", "党员", 楼栋号="2", 负责楼层="1-6"),
    )
    assert [(p.row, p.column) for p in problems] == [(6, "负责楼层")]
    assert "overlap those of P1 on row 5" in problems[0].message


def test_a_telegram_id_given_to_two_people_is_reported() -> None:
    _, problems = check(
        person("A", "民警", **{"Telegram ID": "42"}),
        person("B", "网格员", **{"Telegram ID": "42"}),
    )
    assert [(p.row, p.column) for p in problems] == [(6, "Telegram ID")]


def test_duplicate_compound_and_building_rows_are_reported() -> None:
    tables = read_csv(csv_bytes([COMPOUND, COMPOUND, *BUILDINGS, BUILDINGS[0]]), "r.csv")
    _, problems = validate(tables)
    assert [(p.row, p.column) for p in problems] == [(3, "小区代码"), (6, "楼栋号")]


def test_every_problem_of_a_file_comes_back_at_once() -> None:
    roster, problems = check(
        person("A", "队长"),
        person("B", "居民", 住址="9-1-101"),
        person("C", "党员", 楼栋号="1", 负责楼层="12-14", 手机号="12"),
    )
    assert [(p.row, p.column) for p in problems] == [
        (5, "角色"),
        (6, "住址"),
        (7, "手机号"),
        (7, "负责楼层"),
    ]


def test_unknown_columns_and_kinds_are_problems_not_silently_dropped() -> None:
    header = [*HEADER, "手机"]  # an alias of 手机号: the same column twice
    rows = [COMPOUND, {"类型": "车位", "小区代码": "HYJY"}]
    tables = read_csv(csv_bytes(rows, header).replace("手机\r\n".encode(), b"mobile\r\n"), "r.csv")
    messages = {(p.row, p.column): p.message for p in tables.problems}
    assert "unknown column" in messages[1, "mobile"]
    assert "unknown kind" in messages[3, "类型"]


def test_gbk_csv_from_excel_reads_like_utf8() -> None:
    data = csv_bytes([COMPOUND, *BUILDINGS, person("R", "居民", 住址="2-1-101")])
    gbk = data.decode("utf-8").encode("gbk")
    assert validate(read_csv(gbk))[1] == []


def test_xlsx_problems_name_the_sheet_and_cell() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "小区"
    sheet.append(["小区代码 *", "小区名称 *"])
    sheet.append(["HYJY", "洪雅家园"])
    people = book.create_sheet("人员")
    people.append(["编号", "姓名", "小区代码", "角色", "楼栋号", "负责楼层"])
    people.append(["P1", "王", "HYJY", "队长"])
    people.append(["P2", "李", "HYJY", "党员", 1, utcnow().replace(tzinfo=None)])
    data = io.BytesIO()
    book.save(data)
    tables = read_xlsx(data.getvalue(), "r.xlsx")
    _, problems = validate(tables)
    found = [(p.sheet, p.row, p.column, p.cell) for p in [*tables.problems, *problems]]
    assert ("r.xlsx", 0, "", "") in found  # no 楼栋 sheet
    assert ("人员", 2, "角色", "D2") in found
    assert ("人员", 3, "负责楼层", "F3") in found  # Excel made 1-6 a date
    assert ("人员", 3, "楼栋号", "E3") in found  # no building 1: there is no 楼栋 sheet
    date = next(p for p in tables.problems if p.cell == "F3")
    assert "turned this cell into a date" in date.message


def test_a_file_that_is_not_a_roster_is_one_problem(tmp_path: Path) -> None:
    broken = tmp_path / "roster.xlsx"
    broken.write_bytes(b"not a zip")
    _, problems = load_roster(broken)
    assert len(problems) == 1 and "cannot read the workbook" in problems[0].message
    _, problems = load_roster(tmp_path / "roster.txt")
    assert len(problems) == 1


# -- the committed templates ------------------------------------------------------------
def _make_templates() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_templates", ROSTER_DIR / "make_templates.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(data: bytes) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return {s.title: [r for r in s.iter_rows(values_only=True) if any(r)] for s in book}
    finally:
        book.close()


def test_committed_templates_hold_what_make_templates_writes() -> None:
    for name, content in _make_templates().outputs().items():
        committed = (ROSTER_DIR / name).read_bytes()
        if isinstance(content, str):
            assert committed.decode("utf-8-sig") == content, name
        else:
            written = io.BytesIO()
            content.save(written)
            assert _cells(committed) == _cells(written.getvalue()), name


def test_empty_templates_read_without_problems() -> None:
    for name in ("roster_template.xlsx", "roster_template.csv"):
        roster, problems = load_roster(ROSTER_DIR / name)
        assert problems == [] and roster.people == [], name


# -- writing ----------------------------------------------------------------------------
async def _import(db: Database, roster: Roster) -> ImportSummary:
    async with db.transaction() as session:
        assert await database_problems(session, roster) == []
        return await import_roster(session, roster, utcnow())


async def _counts(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        return {
            model.__name__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                Compound,
                Building,
                Room,
                User,
                RoleGrant,
                ResponsibilityZone,
                ChannelIdentity,
                Invite,
            )
        }


async def test_sample_import_builds_the_compound(db: Database) -> None:
    summary = await _import(db, load_sample())
    assert (summary.compounds_created, summary.buildings_created, summary.rooms_created) == (
        1,
        3,
        2 * 11 * 2 * 2 + 7 * 3,
    )
    assert (summary.people_created, summary.roles_added, summary.zones_added) == (19, 16, 5)
    assert summary.telegram_linked == 2 and summary.invites_created == 19 + 9
    async with db.transaction() as session:
        leader = await session.scalar(select(User).where(User.roster_key == "L01"))
        assert leader is not None and leader.name == "王建国" and leader.phone == "13890330002"
        grants = (
            await session.scalars(select(RoleGrant).where(RoleGrant.user_id == leader.id))
        ).all()
        assert sorted(g.role for g in grants) == ["building_leader", "floor_member"]
        identity = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.user_id == leader.id)
        )
        assert identity is not None and (identity.channel, identity.chat_id) == (
            "telegram",
            "700000001",
        )
        assert leader.room_id is not None  # reachable at once, so living there now
        resident = await session.scalar(select(User).where(User.roster_key == "R01"))
        assert resident is not None and resident.room_id is None and resident.relation == "owner"
        invite = await session.scalar(select(Invite).where(Invite.user_id == resident.id))
        assert invite is not None and invite.room_id is not None and invite.max_uses == 1
        admin = await session.scalar(select(User).where(User.roster_key == "A01"))
        assert admin is not None
        grant = await session.scalar(select(RoleGrant).where(RoleGrant.user_id == admin.id))
        assert grant is not None and grant.role == "admin" and grant.compound_id is None


async def test_reimporting_the_same_roster_changes_nothing(db: Database) -> None:
    await _import(db, load_sample(SAMPLE_XLSX))
    before = await _counts(db)
    again = await _import(db, load_sample(SAMPLE_CSV))
    assert await _counts(db) == before
    changes = {k: v for k, v in again.as_dict().items() if k.endswith(("created", "updated"))}
    changes |= {k: v for k, v in again.as_dict().items() if k.endswith(("added", "removed"))}
    assert set(changes.values()) == {0}, changes
    assert again.telegram_linked == 0


async def test_a_changed_roster_updates_people_roles_and_zones_in_place(db: Database) -> None:
    first, _ = check(
        person("L1", "楼栋长", 楼栋号="1", 手机号="13800000001"),
        person("P1", "党员", 楼栋号="1", 负责楼层="1-6"),
    )
    await _import(db, first)
    before = await _counts(db)
    second, problems = check(
        person("L1", "楼栋长", 楼栋号="2", 手机号="13800000002"),
        person("P1", "党员", 楼栋号="1", 负责楼层="1-5"),
        person("R1", "居民", 住址="2-1-101"),
    )
    assert problems == []
    summary = await _import(db, second)
    assert (summary.people_created, summary.people_updated) == (1, 2)
    assert (summary.roles_added, summary.roles_removed) == (1, 1)
    assert (summary.zones_added, summary.zones_removed) == (1, 1)
    after = await _counts(db)
    assert after["User"] == before["User"] + 1
    assert after["RoleGrant"] == before["RoleGrant"]
    async with db.transaction() as session:
        leader = await session.scalar(select(User).where(User.roster_key == "L1"))
        assert leader is not None and leader.phone == "13800000002"
        grant = await session.scalar(select(RoleGrant).where(RoleGrant.user_id == leader.id))
        building = await session.get(Building, grant.building_id if grant else 0)
        assert building is not None and building.number == 2
        zone = await session.scalar(select(ResponsibilityZone))
        assert zone is not None and (zone.floor_from, zone.floor_to) == (1, 5)


async def test_roles_from_invite_codes_survive_a_reimport(db: Database) -> None:
    roster, _ = check(person("L1", "楼栋长", 楼栋号="1"))
    await _import(db, roster)
    async with db.transaction() as session:
        leader = await session.scalar(select(User).where(User.roster_key == "L1"))
        compound = await session.scalar(select(Compound))
        assert leader is not None and compound is not None
        session.add(
            RoleGrant(user_id=leader.id, role="mediator", compound_id=compound.id, source="invite")
        )
    summary = await _import(db, roster)
    assert summary.roles_removed == 0


async def test_someone_who_registered_first_is_adopted_by_telegram_id(db: Database) -> None:
    async with db.transaction() as session:
        user = User(name="老王")
        session.add(user)
        await session.flush()
        session.add(
            ChannelIdentity(channel="telegram", external_id="555", chat_id="555", user_id=user.id)
        )
    roster, _ = check(person("L1", "楼栋长", 楼栋号="1", **{"Telegram ID": "555"}))
    summary = await _import(db, roster)
    assert (summary.people_created, summary.people_updated, summary.telegram_linked) == (0, 1, 0)
    async with db.transaction() as session:
        adopted = await session.scalar(select(User).where(User.roster_key == "L1"))
        assert adopted is not None and adopted.id == user.id and adopted.name == "人L1"


async def test_a_telegram_id_of_another_roster_person_stops_the_import(db: Database) -> None:
    roster, _ = check(person("L1", "楼栋长", 楼栋号="1", **{"Telegram ID": "777"}))
    await _import(db, roster)
    before = await _counts(db)
    other, _ = check(person("X9", "物业", **{"Telegram ID": "777"}))
    async with db.transaction() as session:
        problems = await database_problems(session, other)
    assert [(p.row, p.column) for p in problems] == [(5, "Telegram ID")]
    assert "already belongs to person L1" in problems[0].message
    assert await _counts(db) == before


# -- personal invites -------------------------------------------------------------------
@pytest.fixture
async def roster_app(db: Database) -> AsyncIterator[App]:
    app = App(settings_for(db), channels={"web": RecordingChannel("web")}, db=db)
    await app.start(migrate=False)
    try:
        yield app
    finally:
        await app.close()


async def _personal_code(db: Database, key: str) -> str:
    async with db.transaction() as session:
        code = await session.scalar(
            select(Invite.code).join(User, User.id == Invite.user_id).where(User.roster_key == key)
        )
        assert code is not None
        return code


async def test_personal_invite_ties_the_chat_to_the_imported_person(roster_app: App) -> None:
    db = roster_app.db
    await _import(db, load_sample())
    users_before = (await _counts(db))["User"]
    chat = CoreChat(roster_app)
    replies = await chat.say("web-resident", f"/start {await _personal_code(db, 'R01')}")
    assert "罗秀英您好" in replies[0].text and "滨江花园 1栋1单元502" in replies[0].text
    member = await chat.say("web-member", f"/start {await _personal_code(db, 'P01')}")
    assert "党员责任区联系人（1栋 1–6 层）" in member[0].text
    me = await chat.say("web-resident", "/me")
    assert "1栋1单元502" in me[0].text
    assert (await _counts(db))["User"] == users_before
    async with db.transaction() as session:
        resident = await session.scalar(select(User).where(User.roster_key == "R01"))
        assert resident is not None and resident.registered_at is not None


async def test_a_personal_invite_works_once_and_never_merges_two_people(roster_app: App) -> None:
    db = roster_app.db
    await _import(db, load_sample())
    chat = CoreChat(roster_app)
    code = await _personal_code(db, "R02")
    await chat.say("first", f"/start {code}")
    again = await chat.say("second", f"/start {code}")
    assert again[0].key == "start.invite_invalid"
    other = await chat.say("first", f"/start {await _personal_code(db, 'R04')}")
    assert "另一位登记人员" in other[0].text
    async with db.transaction() as session:
        r04 = await session.scalar(select(User).where(User.roster_key == "R04"))
        assert r04 is not None and r04.room_id is None
