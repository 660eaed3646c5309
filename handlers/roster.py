"""Roster validation: rows of a roster file become compounds, buildings and people — or a
list of everything wrong with them, by sheet, row and column.

Every problem is collected before anything is written, because an operator fixing a
roster of 800 people in Excel wants the whole list at once, not one error per run. The
module is pure (no database): the rules that need the database — a Telegram id that
already belongs to somebody else — live in ``handlers.roster_import``.

The file describes whole compounds: a building, a zone or a home must be on the file's
own 楼栋 sheet, so a roster can be checked on its own and re-imported as it is.

One person may have several rows, one per role (a building leader who also has a floor
zone has two); rows of the same 编号 must agree on name, phone, Telegram id and home,
and may leave them blank after the first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.storage.models import Relation, Role
from handlers.address import parse_address
from handlers.roster_sheets import Problem, SheetRow, Tables, read_tables

RESIDENT = "resident"
# Roles whose scope is one building, and roles that never have one.
NEEDS_BUILDING = frozenset({Role.FLOOR_MEMBER.value, Role.BUILDING_LEADER.value})
NO_BUILDING = frozenset({RESIDENT, Role.SECRETARY.value, Role.ADMIN.value})

# What operators write in the 角色 column besides the role ids.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    RESIDENT: ("居民", "住户"),
    Role.FLOOR_MEMBER.value: ("党员", "楼层党员", "责任区党员", "党员责任区联系人", "党员联系人"),
    Role.BUILDING_LEADER.value: ("楼栋长", "党小组长", "楼长"),
    Role.SECRETARY.value: ("书记", "支部书记", "党支部书记", "小区党支部书记"),
    Role.COMMITTEE.value: ("业委会", "业委会委员", "业委会成员"),
    Role.PROPERTY.value: ("物业", "物业人员", "物业工作人员", "物业公司"),
    Role.MEDIATOR.value: ("调解员", "调解委员", "调解委员会委员"),
    Role.GRID_WORKER.value: ("网格员",),
    Role.POLICE.value: ("民警", "社区民警", "警察"),
    Role.VOLUNTEER.value: ("志愿者", "律师", "志愿律师", "志愿者(律师)"),
    Role.ADMIN.value: ("管理员",),
}
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    Relation.OWNER.value: ("业主", "房主", "产权人"),
    Relation.TENANT.value: ("租户", "租客"),
    Relation.FAMILY.value: ("家属", "家庭成员", "家人"),
}

MAX_UNITS = 20
MAX_FLOORS = 99  # room numbers are floor + two digits
MAX_ROOMS_PER_FLOOR = 99
_CODE = re.compile(r"^[A-Z0-9]{2,16}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")
_FLOORS = re.compile(r"^(\d{1,2})[层楼]?(?:-(\d{1,2})[层楼]?)?$")


@dataclass(frozen=True)
class CompoundSpec:
    code: str
    name: str
    district: str
    row: int


@dataclass(frozen=True)
class BuildingSpec:
    compound: str
    number: int
    name: str
    units: int
    floors: int
    rooms_per_floor: int
    row: int

    def room_numbers(self, floor: int) -> list[str]:
        return [f"{floor}{i:02d}" for i in range(1, self.rooms_per_floor + 1)]

    def room(self, unit: int, text: str) -> str | None:
        """The canonical room number if ``unit``/``text`` is a flat of this building."""
        if not 1 <= unit <= self.units or not text.isdigit():
            return None
        floor, index = divmod(int(text), 100)
        if 1 <= floor <= self.floors and 1 <= index <= self.rooms_per_floor:
            return f"{floor}{index:02d}"
        return None

    @property
    def room_count(self) -> int:
        return self.units * self.floors * self.rooms_per_floor


@dataclass(frozen=True)
class Home:
    compound: str
    building: int
    unit: int
    room: str

    def __str__(self) -> str:
        return f"{self.compound} {self.building}-{self.unit}-{self.room}"


@dataclass(frozen=True)
class Duty:
    """A role with its scope; ``floors`` is the zone of a floor_member."""

    role: str
    compound: str
    building: int | None
    floors: tuple[int, int] | None
    row: int


@dataclass
class PersonSpec:
    key: str
    compound: str  # of the person's first row: where their invite belongs
    row: int
    name: str | None = None
    phone: str | None = None
    telegram_id: str | None = None
    home: Home | None = None
    relation: str | None = None
    duties: list[Duty] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)  # field → the row that gave it


@dataclass
class Roster:
    compounds: list[CompoundSpec] = field(default_factory=list)
    buildings: list[BuildingSpec] = field(default_factory=list)
    people: list[PersonSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    people_rows: dict[int, SheetRow] = field(default_factory=dict)  # by row number

    def building(self, compound: str, number: int) -> BuildingSpec | None:
        return next(
            (b for b in self.buildings if b.compound == compound and b.number == number), None
        )


def load_roster(path: Path) -> tuple[Roster, list[Problem]]:
    """Read and check a roster file; the roster is only to be imported when problems is empty."""
    tables = read_tables(path)
    roster, problems = validate(tables)
    return roster, in_file_order([*tables.problems, *problems])


def in_file_order(problems: list[Problem]) -> list[Problem]:
    """Sheet by sheet (in the order they first come up), then top to bottom."""
    sheets = {p.sheet: i for i, p in reversed(list(enumerate(problems)))}
    return sorted(problems, key=lambda p: (sheets[p.sheet], p.row))


def validate(tables: Tables) -> tuple[Roster, list[Problem]]:
    checker = _Checker()
    checker.compounds(tables.rows["compounds"])
    checker.buildings(tables.rows["buildings"])
    checker.people(tables.rows["people"])
    checker.warn_vacancies()
    return checker.roster, checker.problems


class _Checker:
    def __init__(self) -> None:
        self.roster = Roster()
        self.problems: list[Problem] = []

    def fail(self, row: SheetRow, column: str, message: str) -> None:
        if column not in row.reported:
            self.problems.append(row.problem(column, message))
            row.reported.add(column)

    def text(self, row: SheetRow, column: str, limit: int, required: bool = False) -> str | None:
        value = row.get(column)
        if column in row.reported:
            return None
        if not value:
            if required:
                self.fail(row, column, "required")
            return None
        if len(value) > limit:
            self.fail(row, column, f"longer than {limit} characters")
            return None
        return value

    def number(self, row: SheetRow, column: str, low: int, high: int) -> int | None:
        raw = row.get(column)
        if column in row.reported:
            return None
        if not raw:
            self.fail(row, column, "required")
            return None
        value = _integer(raw)
        if value is None:
            self.fail(row, column, f"{raw!r} is not a whole number")
        elif not low <= value <= high:
            self.fail(row, column, f"{value} is outside {low}–{high}")
        else:
            return value
        return None

    def compound_ref(self, row: SheetRow) -> str | None:
        code = _code(row.get("compound"))
        if "compound" in row.reported:
            return None
        if not code:
            self.fail(row, "compound", "required")
            return None
        if not any(c.code == code for c in self.roster.compounds):
            self.fail(row, "compound", f"unknown compound {code}: it is not on the 小区 sheet")
            return None
        return code

    # -- 小区 ----------------------------------------------------------------------
    def compounds(self, rows: list[SheetRow]) -> None:
        seen: dict[str, int] = {}
        for row in rows:
            code = _code(row.get("compound"))
            name = self.text(row, "compound_name", 100, required=True)
            district = self.text(row, "district", 100) or ""
            if not code:
                self.fail(row, "compound", "required")
                continue
            if not _CODE.match(code):
                self.fail(
                    row, "compound", f"{code!r}: use 2–16 capital letters or digits, e.g. HYJY"
                )
                continue
            if code in seen:
                self.fail(row, "compound", f"compound {code} is already on row {seen[code]}")
                continue
            seen[code] = row.row
            if name is not None:
                self.roster.compounds.append(CompoundSpec(code, name, district, row.row))

    # -- 楼栋 ----------------------------------------------------------------------
    def buildings(self, rows: list[SheetRow]) -> None:
        seen: dict[tuple[str, int], int] = {}
        for row in rows:
            compound = self.compound_ref(row)
            number = self.number(row, "building", 1, 999)
            name = self.text(row, "building_name", 50)
            units = self.number(row, "units", 1, MAX_UNITS)
            floors = self.number(row, "floors", 1, MAX_FLOORS)
            rooms = self.number(row, "rooms_per_floor", 1, MAX_ROOMS_PER_FLOOR)
            if compound is None or number is None:
                continue
            if (compound, number) in seen:
                self.fail(
                    row,
                    "building",
                    f"building {number} of {compound} is already on row {seen[compound, number]}",
                )
                continue
            seen[compound, number] = row.row
            if units is None or floors is None or rooms is None:
                continue
            self.roster.buildings.append(
                BuildingSpec(compound, number, name or f"{number}栋", units, floors, rooms, row.row)
            )

    def building_ref(self, row: SheetRow, compound: str | None) -> BuildingSpec | None:
        raw = row.get("building")
        if not raw or "building" in row.reported or compound is None:
            return None
        number = _integer(raw)
        if number is None:
            self.fail(row, "building", f"{raw!r} is not a building number")
            return None
        building = self.roster.building(compound, number)
        if building is None:
            self.fail(row, "building", f"{compound} has no building {number} on the 楼栋 sheet")
        return building

    # -- 人员 ----------------------------------------------------------------------
    def people(self, rows: list[SheetRow]) -> None:
        people: dict[str, PersonSpec] = {}
        resident_rows: dict[str, SheetRow] = {}
        relation_rows: dict[str, SheetRow] = {}
        homes_written: set[str] = set()  # a wrong 住址 is reported once, not again as missing
        first_rows: dict[str, SheetRow] = {}
        for row in rows:
            self.roster.people_rows[row.row] = row
            key = self.text(row, "key", 64, required=True)
            role = self.role(row)
            compound = self.compound_ref(row)
            building = self.building_ref(row, compound)
            values = {
                "name": self.text(row, "name", 100),
                "phone": self.phone(row),
                "telegram_id": self.telegram_id(row),
                "home": self.home(row, compound),
                "relation": self.relation(row),
            }
            floors = self.floor_range(row, role, building)
            if key is None:
                continue
            if row.get("home"):
                homes_written.add(key)
            person = people.get(key)
            if person is None:
                person = people[key] = PersonSpec(key, compound or "", row.row)
                first_rows[key] = row
            person.compound = person.compound or compound or ""
            for name, value in values.items():
                if value is None:
                    continue
                current = getattr(person, name)
                if current is None:
                    setattr(person, name, value)
                    person.sources[name] = row.row
                elif current != value:
                    self.fail(
                        row,
                        name,
                        f"person {key} has {current} on row {person.sources[name]}; "
                        "rows of one 编号 must agree (or leave it blank)",
                    )
            if values["relation"] is not None:
                relation_rows.setdefault(key, row)
            if role is None or compound is None:
                continue
            if role == RESIDENT:
                resident_rows.setdefault(key, row)
                if row.get("building") and "building" not in row.reported:
                    self.fail(row, "building", "a resident's flat goes in 住址, not 楼栋号")
                continue
            self.duty(row, person, role, compound, building, floors)
        for key, person in people.items():
            if person.name is None:
                self.fail(
                    first_rows[key], "name", f"person {key} needs a name on one of their rows"
                )
            missing_home = person.home is None and key not in homes_written
            if missing_home and key in resident_rows:
                self.fail(resident_rows[key], "home", "a resident needs a flat, e.g. 1-2-1502")
            if missing_home and key in relation_rows:
                self.fail(relation_rows[key], "relation", "a relation to a flat needs a 住址")
            if person.home is not None and person.relation is None:
                person.relation = Relation.OWNER.value
            self.roster.people.append(person)
        self.unique_telegram_ids(rows)
        self.zones_apart(rows)

    def duty(
        self,
        row: SheetRow,
        person: PersonSpec,
        role: str,
        compound: str,
        building: BuildingSpec | None,
        floors: tuple[int, int] | None,
    ) -> None:
        if role in NEEDS_BUILDING and building is None:
            if not row.get("building"):
                self.fail(row, "building", f"a {role} answers for one building: give its number")
            return
        if role in NO_BUILDING and row.get("building"):
            self.fail(row, "building", f"a {role} is not limited to one building; leave it empty")
            return
        if role == Role.FLOOR_MEMBER.value and floors is None:
            if not row.get("floor_range"):
                self.fail(row, "floor_range", "a floor_member needs the floors, e.g. 13-18")
            return
        duty = Duty(role, compound, building.number if building else None, floors, row.row)
        for other in person.duties:
            if (other.role, other.compound, other.building, other.floors) == (
                duty.role,
                duty.compound,
                duty.building,
                duty.floors,
            ):
                self.fail(row, "role", f"the same duty as row {other.row}")
                return
        person.duties.append(duty)

    def role(self, row: SheetRow) -> str | None:
        raw = row.get("role")
        if not raw:
            self.fail(row, "role", "required")
            return None
        wanted = unicodedata.normalize("NFKC", raw).strip().lower().replace(" ", "")
        for role, words in ROLE_WORDS.items():
            if wanted == role or wanted in {unicodedata.normalize("NFKC", w) for w in words}:
                return role
        self.fail(
            row,
            "role",
            f"unknown role {raw!r}; use one of {', '.join(ROLE_WORDS)} "
            f"(or 居民, 党员, 楼栋长, 书记, 业委会, 物业, 调解员, 网格员, 民警, 志愿者, 管理员)",
        )
        return None

    def phone(self, row: SheetRow) -> str | None:
        raw = row.get("phone")
        if not raw or "phone" in row.reported:
            return None
        text = unicodedata.normalize("NFKC", raw)
        if re.search(r"\de\+?\d", text.lower()):
            self.fail(row, "phone", f"{raw!r} was shortened by Excel; format the column as text")
            return None
        digits = re.sub(r"[\s\-()]", "", text)
        if digits.startswith("+86"):
            digits = digits[3:]
        elif digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if _MOBILE.match(digits) or _LANDLINE.match(digits):
            return digits
        self.fail(row, "phone", f"{raw!r} is not a mobile (11 digits) or landline number")
        return None

    def telegram_id(self, row: SheetRow) -> str | None:
        raw = row.get("telegram_id")
        if not raw or "telegram_id" in row.reported:
            return None
        text = unicodedata.normalize("NFKC", raw).strip()
        if text.isdigit() and 0 < int(text) < 10**15:
            return str(int(text))
        self.fail(row, "telegram_id", f"{raw!r}: a Telegram id is a number (ask @userinfobot)")
        return None

    def home(self, row: SheetRow, compound: str | None) -> Home | None:
        raw = row.get("home")
        if not raw or "home" in row.reported or compound is None:
            return None
        guess = parse_address(raw)
        if guess is None or guess.building is None or guess.room is None:
            self.fail(row, "home", f"cannot read {raw!r}; write building-unit-room, e.g. 1-2-1502")
            return None
        building = self.roster.building(compound, guess.building)
        if building is None:
            self.fail(row, "home", f"{compound} has no building {guess.building} on the 楼栋 sheet")
            return None
        unit = guess.unit if guess.unit is not None else (1 if building.units == 1 else None)
        if unit is None:
            self.fail(row, "home", f"building {building.number} has units: write 1-2-1502")
            return None
        room = building.room(unit, guess.room)
        if room is None:
            self.fail(
                row,
                "home",
                f"no flat {guess.room} in unit {unit} of building {building.number} "
                f"({building.units} units, {building.floors} floors, "
                f"{building.rooms_per_floor} flats a floor)",
            )
            return None
        return Home(compound, building.number, unit, room)

    def relation(self, row: SheetRow) -> str | None:
        raw = row.get("relation")
        if not raw or "relation" in row.reported:
            return None
        wanted = raw.strip().lower()
        for relation, words in RELATION_WORDS.items():
            if wanted == relation or wanted in words:
                return relation
        self.fail(row, "relation", f"unknown relation {raw!r}; write 业主, 租户 or 家属")
        return None

    def floor_range(
        self, row: SheetRow, role: str | None, building: BuildingSpec | None
    ) -> tuple[int, int] | None:
        raw = row.get("floor_range")
        if not raw or "floor_range" in row.reported:
            return None
        if role is not None and role != Role.FLOOR_MEMBER.value:
            self.fail(row, "floor_range", "only a floor_member (党员) has floors")
            return None
        text = re.sub(r"\s", "", unicodedata.normalize("NFKC", raw))
        text = re.sub(r"[~～至到—–]", "-", text)
        match = _FLOORS.match(text)
        if match is None:
            self.fail(row, "floor_range", f"cannot read {raw!r}; write the floors as 13-18")
            return None
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if building is not None and not 1 <= low <= high <= building.floors:
            self.fail(
                row,
                "floor_range",
                f"floors {low}–{high} are outside building {building.number} "
                f"(floors 1–{building.floors})",
            )
            return None
        if low > high:
            self.fail(row, "floor_range", f"{low} is above {high}")
            return None
        return low, high

    def unique_telegram_ids(self, rows: list[SheetRow]) -> None:
        owner: dict[str, tuple[str, int]] = {}
        for row in rows:
            key, raw = row.get("key"), row.get("telegram_id")
            if not key or not raw or "telegram_id" in row.reported:
                continue
            tid = str(int(raw)) if raw.isdigit() else raw
            first = owner.setdefault(tid, (key, row.row))
            if first[0] != key:
                self.fail(
                    row,
                    "telegram_id",
                    f"Telegram id {tid} is already given to person {first[0]} on row {first[1]}",
                )

    def zones_apart(self, rows: list[SheetRow]) -> None:
        """Two party members answering for one floor would leave each thinking the other acts."""
        by_building: dict[tuple[str, int], list[tuple[Duty, str]]] = defaultdict(list)
        for person in self.roster.people:
            for duty in person.duties:
                if duty.floors is not None and duty.building is not None:
                    by_building[duty.compound, duty.building].append((duty, person.key))
        row_of = {row.row: row for row in rows}
        for (compound, number), zones in by_building.items():
            zones.sort(key=lambda z: z[0].row)
            for i, (duty, _) in enumerate(zones):
                for other, other_key in zones[:i]:
                    assert duty.floors is not None and other.floors is not None
                    if duty.floors[0] <= other.floors[1] and other.floors[0] <= duty.floors[1]:
                        self.fail(
                            row_of[duty.row],
                            "floor_range",
                            f"floors {duty.floors[0]}–{duty.floors[1]} of {compound} building "
                            f"{number} overlap those of {other_key} on row {other.row} "
                            f"({other.floors[0]}–{other.floors[1]})",
                        )
                        break

    def warn_vacancies(self) -> None:
        duties = [d for p in self.roster.people for d in p.duties]
        for compound in self.roster.compounds:
            if not any(
                d.role == Role.SECRETARY.value and d.compound == compound.code for d in duties
            ):
                self.roster.warnings.append(
                    f"{compound.code} has no secretary: cases nobody else takes stay unassigned"
                )
        for building in self.roster.buildings:
            if not any(
                d.role == Role.BUILDING_LEADER.value
                and d.compound == building.compound
                and d.building == building.number
                for d in duties
            ):
                self.roster.warnings.append(
                    f"{building.compound} building {building.number} has no building leader: "
                    "its cases go to the compound level"
                )


def _code(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().upper()


def _integer(raw: str) -> int | None:
    text = unicodedata.normalize("NFKC", raw).strip()
    text = re.sub(r"(号楼|[栋幢号楼层户个]|单元)$", "", text)
    return int(text) if text.isdigit() else None
