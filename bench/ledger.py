"""Ledger export at county scale: 100,000 cases with their events, then the workbook.

Generates a year of cases in a fresh SQLite file — five compounds (the demo compound and
four more of the same shape), a resident in every flat, handlers for every building;
matters drawn with a realistic skew, levels with escalations, statuses by age, 3–8 events
a case — with bulk inserts (``executemany`` in chunks), then runs the real command
``linli ledger export`` in a child process, so its peak RSS is measured alone, and
``linli stats --json`` likewise.

Prints JSON: cases, events, generate_seconds, export_seconds, stats_seconds,
peak_rss_mb (of the export), file_mb. Goals (issue 8): export < 60 s, < 300 MB.
Usage: ``python bench/ledger.py [--cases 100000] [--keep DIR] [--seed 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.demo import ROOMS_PER_FLOOR, seed_demo  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.migrate import upgrade  # noqa: E402
from handlers.structure import Shape, create_compound  # noqa: E402
from knowledge.matters import Matter, load_matters  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMPOUNDS = (("HYJY", "洪雅家园"), ("QYHY", "青衣花苑"), ("BSXQ", "滨水小区"), ("YPJY", "雅平佳园"))
YEAR_START = datetime(2025, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 30, tzinfo=UTC)
CHUNK = 10_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡"
GIVEN = "秀英 建华 志强 国平 红梅 明 伟 德明 静 勇 文 丽 强 芳 磊 丹 峰 敏 洁 军 梅 亮 雪 涛 燕 平"
PROGRESS = (
    "已联系双方，约定明天上门查看",
    "物业已派人到现场核实",
    "已协调维修师傅，预计两天内处理",
    "双方已初步沟通，正在商量赔偿",
    "已上门查看，拍照留存",
    "等待配件到货",
)
RATINGS = (("satisfied", 0.72), ("basic", 0.18), ("unsatisfied", 0.05), (None, 0.05))


def stamp(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC time in SQLite (naive, microseconds)."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Place:
    compound_id: int
    code: str
    residents: list[tuple[int, int, int, int]]  # user, room, building, floor
    staff: list[int]


async def build_structure(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        async with db.transaction() as session:
            await seed_demo(session)
            for code, name in COMPOUNDS:
                await create_compound(session, code, name, Shape(6, 2, 18, ROOMS_PER_FLOOR))
    finally:
        await db.dispose()


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN.split())


def add_people(conn: sqlite3.Connection, rng: random.Random) -> list[Place]:
    """A resident in every empty flat and eight handlers a compound (with role grants)."""
    created = stamp(YEAR_START)
    rooms = conn.execute(
        "SELECT room.id, building.id, floor.number, building.compound_id FROM room "
        "JOIN floor ON floor.id = room.floor_id JOIN unit ON unit.id = floor.unit_id "
        "JOIN building ON building.id = unit.building_id "
        "WHERE room.id NOT IN (SELECT room_id FROM app_user WHERE room_id IS NOT NULL)"
    ).fetchall()
    conn.executemany(
        "INSERT INTO app_user (name, phone, room_id, relation, created_at) VALUES (?, ?, ?, ?, ?)",
        [
            (
                person(rng),
                f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                r[0],
                "owner",
                created,
            )
            for r in rooms
        ],
    )
    places = []
    for compound_id, code in conn.execute("SELECT id, code FROM compound ORDER BY id").fetchall():
        staff = [
            u
            for (u,) in conn.execute(
                "SELECT DISTINCT user_id FROM role_grant WHERE compound_id = ? AND role != 'admin'",
                (compound_id,),
            )
        ]
        if not staff:
            for role in ("secretary", "property", "committee", "mediator", *["floor_member"] * 4):
                cursor = conn.execute(
                    "INSERT INTO app_user (name, created_at) VALUES (?, ?)", (person(rng), created)
                )
                conn.execute(
                    "INSERT INTO role_grant (user_id, role, compound_id, source, created_at) "
                    "VALUES (?, ?, ?, 'bench', ?)",
                    (cursor.lastrowid, role, compound_id, created),
                )
                staff.append(int(cursor.lastrowid or 0))
        residents = conn.execute(
            "SELECT app_user.id, room.id, building.id, floor.number FROM app_user "
            "JOIN room ON room.id = app_user.room_id JOIN floor ON floor.id = room.floor_id "
            "JOIN unit ON unit.id = floor.unit_id JOIN building ON building.id = unit.building_id "
            "WHERE building.compound_id = ?",
            (compound_id,),
        ).fetchall()
        places.append(Place(compound_id, code, residents, staff))
    conn.commit()
    return places


def pick_rating(rng: random.Random) -> str | None:
    roll, total = rng.random(), 0.0
    for value, share in RATINGS:
        total += share
        if roll < total:
            return value
    return None


class Generator:
    def __init__(self, places: list[Place], rng: random.Random) -> None:
        self.places = places
        self.rng = rng
        self.matters: list[Matter] = load_matters().reportable()
        # A skew like a real ledger: leaks, noise and parking far ahead of the rest.
        self.weights = [1.0 / (1 + i) ** 0.8 for i in range(len(self.matters))]
        self.numbers: dict[tuple[str, int], int] = {}
        self.case_id = 0

    def case(self) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        rng = self.rng
        place = rng.choices(self.places, weights=(3, 1, 1, 1, 1))[0]
        matter = rng.choices(self.matters, weights=self.weights)[0]
        user, room, building, floor = rng.choice(place.residents)
        created = YEAR_START + timedelta(
            seconds=rng.randrange(int((NOW - YEAR_START).total_seconds()))
        )
        key = (place.code, created.year)
        self.numbers[key] = self.numbers.get(key, 0) + 1
        self.case_id += 1
        case_id = self.case_id
        number = f"{place.code}-{created.year}-{self.numbers[key]:06d}"
        ladder = list(matter.ladder)
        escalations = 0
        if len(ladder) > 1 and rng.random() < 0.15:
            escalations = 2 if len(ladder) > 2 and rng.random() < 0.2 else 1
        level = ladder[escalations]
        lead = rng.choice(place.staff)
        sla = timedelta(hours=matter.rule(level).sla_hours)
        age = NOW - created
        events: list[tuple[Any, ...]] = []
        at = created

        def event(
            kind: str, actor: int | None, text: str = "", data: str = "{}", lvl: str = level
        ) -> None:
            events.append((case_id, stamp(at), actor, kind, lvl, text, data))

        text = rng.choice(matter.examples)
        if rng.random() < 0.1:
            text += f"，电话1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        event("reported", user, text, lvl=ladder[0])
        event("assigned", None, "", json.dumps({"lead": lead}), ladder[0])
        for step in range(escalations):
            at += timedelta(hours=matter.rule(ladder[step]).sla_hours, minutes=1)
            event(
                "escalated",
                None,
                "sla",
                json.dumps({"from": ladder[step], "to": ladder[step + 1]}),
                ladder[step + 1],
            )
        deadline = at + sla
        status, resolved_at, closed_at, accepted_at, rating = "assigned", None, None, None, None
        reopens = 0
        if age > timedelta(days=3) or rng.random() < 0.5:
            accepted_at = at = at + timedelta(hours=rng.uniform(0.2, 6))
            event("accepted", lead)
            status = "accepted"
        if accepted_at is None:
            at += timedelta(minutes=rng.randrange(5, 600))
            event("info_added", user, "补充：情况还在持续")
        target = rng.randint(3, 8)
        while accepted_at and len(events) < target - 3:
            at += timedelta(hours=rng.uniform(1, 20))
            event("progress", lead, rng.choice(PROGRESS))
            status = "in_progress"
        spent = timedelta(hours=rng.expovariate(1 / (sla.total_seconds() / 3600 * 0.6)))
        if accepted_at and created + spent < NOW - timedelta(days=2) and rng.random() < 0.93:
            at = max(at, created + spent) + timedelta(minutes=5)
            resolved_at = at
            event("resolved", lead, "已处理完毕")
            status = "resolved"
            if at < NOW - timedelta(days=3):
                rating = pick_rating(rng)
                at += timedelta(hours=rng.uniform(1, 60))
                if rating == "unsatisfied":
                    event("rated", user, rating)
                    event("reopened", user, "unsatisfied")
                    status, resolved_at, reopens = "reopened", None, 1
                elif rating is not None:
                    event("rated", user, rating)
                    event("closed", user, "rated")
                    status, closed_at = "closed", at
                else:
                    event("closed", None, "not_rated")
                    status, closed_at = "closed", at
        co = rng.choice([s for s in place.staff if s != lead] or place.staff)
        members = [(case_id, co, "co", "property", level, stamp(created))]
        row = (
            case_id, number, place.compound_id, matter.kind, matter.id, text, building, floor,
            room, "", None, user, level, lead, status, stamp(deadline), None, rating,
            "谢谢" if rating == "satisfied" and rng.random() < 0.2 else "", escalations, reopens,
            stamp(created), stamp(at), stamp(accepted_at) if accepted_at else None,
            stamp(resolved_at) if resolved_at else None, stamp(closed_at) if closed_at else None,
        )  # fmt: skip
        return row, events, members


def generate(path: Path, count: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    generator = Generator(add_people(conn, rng), rng)
    cases_sql = (
        "INSERT INTO case_file (id, number, compound_id, kind, matter_id, text, building_id, "
        "floor, room_id, area, counterparty_room_id, reporter_id, level, lead_id, status, "
        "deadline, reminded_at, satisfaction, comment, escalations, reopens, created_at, "
        "updated_at, accepted_at, resolved_at, closed_at) VALUES "
        "(" + ", ".join("?" * 26) + ")"
    )
    events_sql = (
        "INSERT INTO case_event (case_id, at, actor_id, kind, level, text, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    members_sql = (
        "INSERT INTO case_member (case_id, user_id, part, role, level, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )
    total_events = 0
    for start in range(0, count, CHUNK):
        cases, events, members = [], [], []
        for _ in range(min(CHUNK, count - start)):
            row, case_events, case_members = generator.case()
            cases.append(row)
            events += case_events
            members += case_members
        conn.executemany(cases_sql, cases)
        conn.executemany(events_sql, events)
        conn.executemany(members_sql, members)
        total_events += len(events)
    conn.commit()
    conn.close()
    return count, total_events


def child_run(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{done.stderr}")
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--keep", help="keep the database and workbook in this directory")
    options = parser.parse_args()
    directory = Path(options.keep or tempfile.mkdtemp(prefix="linli-ledger-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ledger.db"
    path.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    out = directory / "ledger.xlsx"

    started = time.perf_counter()
    asyncio.run(build_structure(url))
    cases, events = generate(path, options.cases, options.seed)
    generate_seconds = time.perf_counter() - started

    export_seconds, _ = child_run(["ledger", "export", "--out", str(out), "--db", url])
    # ru_maxrss of children is the largest child so far: the export, run first.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stats_seconds, stats = child_run(["stats", "--json", "--db", url])
    result = {
        "cases": cases,
        "events": events,
        "generate_seconds": round(generate_seconds, 1),
        "export_seconds": round(export_seconds, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "file_mb": round(out.stat().st_size / 2**20, 1),
        "stats_seconds": round(stats_seconds, 1),
        "stats_total_cases": json.loads(stats)["total"]["cases"],
        "directory": str(directory),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
