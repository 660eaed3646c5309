"""The matter table (法治账图) as typed data: what each kind of report is, its legal
basis, which level it belongs to, who leads and who co-handles at each level, and how
long each level has before the case climbs.

The table is data so a compound can adapt it without code; this module makes sure a
broken table is caught by the test suite and by ``linli knowledge check``, never by a
resident whose report went nowhere.

Usage::

    table = load_matters()
    matter = table.matters["leak_from_above"]
    matter.rule("floor").lead  # "floor_member"
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from knowledge.law import LawLibrary, load_law

MATTERS_FILE = Path(__file__).resolve().parent / "matters.yaml"
LEVELS = ("floor", "building", "compound", "joint")
KINDS = ("repair", "dispute", "safety", "consult", "suggestion")
PLACES = ("home", "common", "counterparty")
ROLES = (
    "floor_member",
    "building_leader",
    "secretary",
    "committee",
    "property",
    "mediator",
    "grid_worker",
    "police",
    "volunteer",
)


class MatterTableError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("matter table is invalid:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LevelRule:
    lead: str
    co: tuple[str, ...]
    sla_hours: float


@dataclass(frozen=True)
class Matter:
    id: str
    name: str
    kind: str
    place: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    legal_basis: tuple[str, ...]
    home_level: str
    levels: Mapping[str, LevelRule]
    process: tuple[str, ...]
    advice: str
    # Internal matters are opened by the bot itself (a question handed to a lawyer), never
    # offered to residents as a kind of report.
    internal: bool = False

    @property
    def ladder(self) -> tuple[str, ...]:
        """The levels this matter climbs, from its home level to joint mediation."""
        return LEVELS[LEVELS.index(self.home_level) :]

    def rule(self, level: str) -> LevelRule:
        return self.levels[level]

    def next_level(self, level: str) -> str | None:
        ladder = self.ladder
        index = ladder.index(level)
        return ladder[index + 1] if index + 1 < len(ladder) else None


@dataclass(frozen=True)
class Emergency:
    id: str
    numbers: tuple[str, ...]
    keywords: tuple[str, ...]
    advice: str


@dataclass(frozen=True)
class MatterTable:
    matters: dict[str, Matter]
    emergencies: tuple[Emergency, ...]

    def __iter__(self) -> Iterator[Matter]:
        return iter(self.matters.values())

    def reportable(self) -> list[Matter]:
        """Matters a resident can report (what recognition and the menus offer)."""
        return [m for m in self.matters.values() if not m.internal]


_MATTER_FIELDS = (
    "id",
    "name",
    "kind",
    "place",
    "keywords",
    "examples",
    "legal_basis",
    "home_level",
    "levels",
    "process",
    "advice",
)


def parse_matters(data: Any, law: LawLibrary) -> MatterTable:
    """Validate raw YAML data; every problem is collected, then raised together."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise MatterTableError(["top level must be a mapping with 'matters' and 'emergencies'"])
    matters: dict[str, Matter] = {}
    for index, raw in enumerate(data.get("matters") or []):
        where = f"matters[{index}] {raw.get('id', '?') if isinstance(raw, dict) else '?'}"
        matter = _parse_matter(raw, where, law, problems)
        if matter is None:
            continue
        if matter.id in matters:
            problems.append(f"{where}: duplicate id")
        matters[matter.id] = matter
    if not matters:
        problems.append("no matters")
    emergencies = tuple(
        e
        for i, raw in enumerate(data.get("emergencies") or [])
        if (e := _parse_emergency(raw, f"emergencies[{i}]", problems)) is not None
    )
    if not emergencies:
        problems.append("no emergencies")
    if problems:
        raise MatterTableError(problems)
    return MatterTable(matters, emergencies)


def _texts(raw: Any, where: str, name: str, minimum: int, problems: list[str]) -> tuple[str, ...]:
    values = raw.get(name) if isinstance(raw, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        problems.append(f"{where}: {name} must be a list of non-empty texts")
        return ()
    if len(values) < minimum:
        problems.append(f"{where}: {name} needs at least {minimum} entries")
    return tuple(v.strip() for v in values)


def _parse_matter(raw: Any, where: str, law: LawLibrary, problems: list[str]) -> Matter | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    missing = [f for f in _MATTER_FIELDS if raw.get(f) in (None, "", [], {})]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
        return None
    if raw["kind"] not in KINDS:
        problems.append(f"{where}: kind {raw['kind']!r} not one of {KINDS}")
    if raw["place"] not in PLACES:
        problems.append(f"{where}: place {raw['place']!r} not one of {PLACES}")
    if raw["home_level"] not in LEVELS:
        problems.append(f"{where}: home_level {raw['home_level']!r} not one of {LEVELS}")
        return None
    basis = _texts(raw, where, "legal_basis", 1, problems)
    for article_id in basis:
        if (problem := law.problem(article_id)) is not None:
            problems.append(f"{where}: legal_basis {problem}")
    levels: dict[str, LevelRule] = {}
    ladder = LEVELS[LEVELS.index(raw["home_level"]) :]
    raw_levels = raw["levels"] if isinstance(raw["levels"], dict) else {}
    for level in ladder:
        rule = raw_levels.get(level)
        if not isinstance(rule, dict):
            problems.append(f"{where}: levels.{level} missing (the ladder climbs to joint)")
            continue
        lead, co, sla = rule.get("lead"), rule.get("co", []), rule.get("sla_hours")
        if lead not in ROLES:
            problems.append(f"{where}: levels.{level}.lead {lead!r} is not a handler role")
        if not isinstance(co, list) or any(c not in ROLES for c in co):
            problems.append(f"{where}: levels.{level}.co must list handler roles")
            co = []
        if not isinstance(sla, int | float) or sla <= 0:
            problems.append(f"{where}: levels.{level}.sla_hours must be a positive number")
            sla = 0
        levels[level] = LevelRule(str(lead), tuple(co), float(sla))
    extra = set(raw_levels) - set(ladder)
    if extra:
        problems.append(f"{where}: levels below the home level: {sorted(extra)}")
    return Matter(
        id=str(raw["id"]),
        name=str(raw["name"]),
        kind=str(raw["kind"]),
        place=str(raw["place"]),
        keywords=_texts(raw, where, "keywords", 3, problems),
        examples=_texts(raw, where, "examples", 3, problems),
        legal_basis=basis,
        home_level=str(raw["home_level"]),
        levels=levels,
        process=_texts(raw, where, "process", 2, problems),
        advice=str(raw["advice"]).strip(),
        internal=bool(raw.get("internal", False)),
    )


def _parse_emergency(raw: Any, where: str, problems: list[str]) -> Emergency | None:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("advice"):
        problems.append(f"{where}: needs id, numbers, keywords, advice")
        return None
    return Emergency(
        id=str(raw["id"]),
        numbers=_texts(raw, where, "numbers", 1, problems),
        keywords=_texts(raw, where, "keywords", 3, problems),
        advice=str(raw["advice"]).strip(),
    )


@cache
def load_matters(path: Path = MATTERS_FILE) -> MatterTable:
    with path.open(encoding="utf-8") as fh:
        return parse_matters(yaml.safe_load(fh), load_law())
