"""The ``linli`` command line: demo, serve, database and invite administration.

Each subcommand is a small function taking parsed arguments; they share one way of
building Settings so ``--db`` and ``LINLI_DATABASE_URL`` mean the same everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_admin import add_dashboard_commands
from bot.cli_broadcast import add_broadcast_commands
from bot.cli_ledger import add_ledger_commands
from bot.cli_roster import add_roster_commands
from bot.cli_telegram import add_telegram_commands
from bot.config import Settings
from bot.core.catalog import load_catalog
from bot.demo import (
    COMPOUND_INVITE,
    DEMO_PASSWORD,
    is_empty,
    seed_dashboard_logins,
    seed_demo,
)
from bot.observability.log_format import configure_logging
from bot.roles import ALL_ROLES, ServeRole, parse_roles
from bot.storage.db import Database
from bot.storage.migrate import current_revision, upgrade
from bot.storage.models import Building, Case, CaseStatus, Compound, Invite, Role, Unit, utcnow
from bot.supervisor import child_command, supervise
from handlers.address import parse_address
from handlers.case_records import case_record
from handlers.directory import find_room
from handlers.structure import Shape, create_compound

log = logging.getLogger("linli")


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    values: dict[str, object] = dict(overrides)
    if getattr(args, "db", None):
        values["database_url"] = args.db
    if getattr(args, "host", None):
        values["host"] = args.host
    if getattr(args, "port", None):
        values["port"] = args.port
    if getattr(args, "ops_port", None):
        values["ops_port"] = args.ops_port
    settings = Settings(**values)  # type: ignore[arg-type]
    _ensure_sqlite_dir(settings.database_url)
    return settings


def _ensure_sqlite_dir(url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


async def _serve(
    settings: Settings,
    *,
    seed: bool,
    roles: frozenset[ServeRole] = ALL_ROLES,
    migrate: bool = True,
    reuse_port: bool = False,
) -> None:
    app = App(settings)
    await app.start(migrate=migrate)
    if seed:
        async with app.db.transaction() as session:
            if await is_empty(session):
                await seed_demo(session)
                log.info("seeded the demo compound 时代帝景 (SDDJ)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ServeRole.WEB in roles:
        print(f"linli web chat: {settings.base_url}/", flush=True)
    if settings.telegram_token:
        print(
            f"Telegram: {settings.telegram_library}, {settings.telegram_mode}, "
            f"Bot API {settings.telegram_api_base}",
            flush=True,
        )
    if seed:
        print(
            f"invite link for new residents: {settings.base_url}/join/{COMPOUND_INVITE}", flush=True
        )
        logins = await seed_dashboard_logins(app.dashboard_auth)
        print(
            f"dashboard: {settings.base_url}/admin "
            f"(users {', '.join(logins)}; password {DEMO_PASSWORD})",
            flush=True,
        )
    try:
        await app.serve(stop, roles, reuse_port=reuse_port)
    finally:
        await app.close()
    print("linli stopped", flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {"web_trust_path": True}
    if args.sla_scale:
        # A demo wants to see escalation happen: check often, and shrink every SLA.
        overrides |= {"sla_scale": args.sla_scale, "scheduler_interval_seconds": 2.0}
    settings = _settings(args, **overrides)
    asyncio.run(_serve(settings, seed=True))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        roles = parse_roles(args.role or [settings.roles])
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    workers = args.workers or settings.workers
    if workers == 1:
        asyncio.run(
            _serve(
                settings,
                seed=False,
                roles=roles,
                migrate=not args.no_migrate,
                reuse_port=args.reuse_port,
            )
        )
        return 0
    asyncio.run(_migrate(settings))  # once, not in N processes at once
    # Every process listens (the web chat, or only /healthz, /readyz and /metrics): on
    # one port, the kernel spreading connections among them.
    child = ["--no-migrate", "--role", ",".join(sorted(roles)), "--reuse-port"]
    for flag in ("db", "host", "port", "ops_port"):
        if getattr(args, flag, None):
            child += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    return asyncio.run(_supervise([child_command(child)] * workers))


async def _migrate(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def _supervise(commands: list[list[str]]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await supervise(commands, stop)


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            if args.action == "upgrade":
                await upgrade(db)
            print(await current_revision(db) or "empty")
        finally:
            await db.dispose()

    asyncio.run(run())
    return 0


def cmd_invite_create(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> str:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                compound = await session.scalar(
                    select(Compound).where(Compound.code == args.compound)
                )
                if compound is None:
                    raise SystemExit(f"no compound with code {args.compound!r}")
                invite = Invite(
                    code=args.code or secrets.token_urlsafe(6).replace("-", "x").replace("_", "y"),
                    compound_id=compound.id,
                    role=Role(args.role).value if args.role else None,
                    max_uses=args.uses,
                    note=args.note,
                )
                if args.days:
                    invite.expires_at = utcnow() + timedelta(days=args.days)
                if args.building is not None:
                    building = await session.scalar(
                        select(Building).where(
                            Building.compound_id == compound.id, Building.number == args.building
                        )
                    )
                    if building is None:
                        raise SystemExit(f"{args.compound} has no building {args.building}")
                    invite.building_id = building.id
                if args.floors:
                    low, _, high = args.floors.partition("-")
                    invite.floor_from, invite.floor_to = int(low), int(high or low)
                if args.room:
                    invite.room_id = await _room_id(session, compound, args.room)
                session.add(invite)
            return invite.code
        finally:
            await db.dispose()

    code = asyncio.run(run())
    print(f"{code}\t{settings.base_url}/join/{code}")
    return 0


async def _room_id(session: AsyncSession, compound: Compound, text: str) -> int:
    guess = parse_address(text)
    if guess is None or None in (guess.building, guess.unit, guess.room):
        raise SystemExit(f"cannot read room {text!r}; write it like 1-1-1502")
    building = await session.scalar(
        select(Building).where(
            Building.compound_id == compound.id, Building.number == guess.building
        )
    )
    if building is None:
        raise SystemExit(f"no building {guess.building}")
    unit = await session.scalar(
        select(Unit).where(Unit.building_id == building.id, Unit.number == guess.unit)
    )
    address = await find_room(session, unit.id, guess.room) if unit else None
    if address is None:
        raise SystemExit(f"no room {text!r} in {compound.code}")
    return address.room_id


def cmd_compound_create(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rooms = [int(n) for n in args.rooms.split(",")]
    shape = Shape(args.buildings, args.units, args.floors, rooms)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                exists = await session.scalar(select(Compound).where(Compound.code == args.code))
                if exists is not None:
                    raise SystemExit(f"compound {args.code!r} already exists")
                _, created = await create_compound(
                    session, args.code, args.name, shape, args.district
                )
            return len(created)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    print(f"created {args.code} {args.name}: {args.buildings} buildings, {count} flats")
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    settings = _settings(args)
    catalog = load_catalog(settings.locale)

    async def run() -> list[dict[str, object]] | dict[str, object] | None:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                if args.cases_command == "show":
                    case = await session.scalar(select(Case).where(Case.number == args.number))
                    if case is None:
                        return None
                    return await case_record(
                        session, case, catalog, reveal=args.reveal, history=True
                    )
                query = select(Case).order_by(Case.id)
                if args.status:
                    query = query.where(Case.status == args.status)
                cases = (await session.scalars(query)).all()
                return [await case_record(session, c, catalog, reveal=args.reveal) for c in cases]
        finally:
            await db.dispose()

    result = asyncio.run(run())
    if result is None:
        print(f"no case {args.number}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    elif isinstance(result, list):
        for r in result:
            print(
                f"{r['number']}\t{r['status']}\t{r['level']}\t{r['matter_name']}\t"
                f"{r['lead'] or '-'}\t{r['reported_at'][:16]}"
            )
    else:
        print(_format_case(result))
    return 0


def _format_case(record: dict[str, Any]) -> str:
    lines = [
        f"{record['number']}  {record['matter_name']}  [{record['status']}]",
        f"level: {record['level']}   lead: {record['lead'] or '-'}   "
        f"co: {', '.join(c for c in record['co_handlers'] if c) or '-'}",
        f"reporter: {record['reporter']} {record['reporter_room'] or ''}   area: {record['area']}",
        f"legal basis: {', '.join(record['legal_basis'])}",
        f"text: {record['text']}",
        "history:",
    ]
    for e in record["events"]:
        detail = f" — {e['text']}" if e["text"] else ""
        lines.append(
            f"  {e['at'][:19]}  {e['level']:<8} {e['actor'] or '系统'} {e['what']}{detail}"
        )
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from knowledge.answer import answer_question

    result = answer_question(args.question)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return 0
    catalog = load_catalog(Settings().locale)
    if result.fallback or result.entry is None:
        print(catalog.t("consult.not_sure", disclaimer=catalog.t("consult.disclaimer")))
        for hit in result.alternatives:
            print(f"  - {hit.entry.question}  ({hit.score:.2f})")
        return 0
    print(
        catalog.t(
            "consult.answer",
            question=result.entry.question,
            answer=result.entry.answer,
            basis="、".join(a.citation for a in result.citations),
            disclaimer=catalog.t("consult.disclaimer"),
        )
    )
    return 0


def cmd_knowledge(args: argparse.Namespace) -> int:
    if args.knowledge_command == "check":
        from knowledge.check import problems

        found = problems()
        for problem in found:
            print(problem)
        if found:
            print(f"{len(found)} problem(s)", file=sys.stderr)
            return 1
        from knowledge.faq import load_faq
        from knowledge.matters import load_matters

        print(f"ok: {len(load_matters().matters)} matters, {len(load_faq())} FAQ entries")
        return 0
    from knowledge.evaluate import evaluate_file

    print(json.dumps(evaluate_file(Path(args.file)), ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="邻里 compound governance bot")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", help="database URL (default: LINLI_DATABASE_URL)")
        return p

    demo = with_db(sub.add_parser("demo", help="seed the demo compound and serve the web chat"))
    demo.add_argument("--host", default=None)
    demo.add_argument("--port", type=int, default=None)
    demo.add_argument(
        "--sla-scale",
        type=float,
        default=None,
        help="multiply every SLA, e.g. 0.001 turns a 48 h deadline into under 3 minutes",
    )
    demo.set_defaults(func=cmd_demo)

    serve = with_db(
        sub.add_parser("serve", help="run the production roles: web, worker, scheduler")
    )
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--role",
        action="append",
        metavar="ROLE",
        help="web, worker or scheduler; repeat or comma-separate (default: LINLI_ROLES, all)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes, each running the roles (default: LINLI_WORKERS, 1)",
    )
    serve.add_argument("--no-migrate", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument(
        "--ops-port",
        type=int,
        default=None,
        help="without the web role: answer /healthz, /readyz and /metrics on this port",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=cmd_serve)

    db = with_db(sub.add_parser("db", help="database schema"))
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(func=cmd_db)

    compound = sub.add_parser("compound", help="compounds")
    compound_sub = compound.add_subparsers(dest="compound_command", required=True)
    make = with_db(compound_sub.add_parser("create", help="create a regular compound"))
    make.add_argument("--code", required=True, help="short code used in case numbers, e.g. SDDJ")
    make.add_argument("--name", required=True)
    make.add_argument("--district", default="")
    make.add_argument("--buildings", type=int, required=True)
    make.add_argument("--units", type=int, default=1, help="units per building")
    make.add_argument("--floors", type=int, required=True)
    make.add_argument(
        "--rooms", default="2", help="flats per floor: one number, or one per building (2,3,4)"
    )
    make.set_defaults(func=cmd_compound_create)

    ask = sub.add_parser("ask", help="answer a legal question from the knowledge base")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=cmd_ask)

    knowledge = sub.add_parser("knowledge", help="the matter table and the FAQ")
    knowledge_sub = knowledge.add_subparsers(dest="knowledge_command", required=True)
    knowledge_sub.add_parser("check", help="validate citations and entries").set_defaults(
        func=cmd_knowledge
    )
    evaluation = knowledge_sub.add_parser("eval", help="top-1 / top-3 on a question file")
    evaluation.add_argument("file")
    evaluation.set_defaults(func=cmd_knowledge)

    cases = sub.add_parser("cases", help="the case ledger")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    listing = with_db(cases_sub.add_parser("list", help="list cases"))
    listing.add_argument("--status", choices=[s.value for s in CaseStatus])
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--reveal", action="store_true", help="show personal data unmasked")
    listing.set_defaults(func=cmd_cases)
    show = with_db(cases_sub.add_parser("show", help="one case with its whole history"))
    show.add_argument("number")
    show.add_argument("--json", action="store_true")
    show.add_argument("--reveal", action="store_true", help="show personal data unmasked")
    show.set_defaults(func=cmd_cases)

    invites = sub.add_parser("invites", help="invite codes")
    invites_sub = invites.add_subparsers(dest="invites_command", required=True)
    create = with_db(invites_sub.add_parser("create", help="create an invite code and link"))
    create.add_argument("--compound", required=True, help="compound code, e.g. SDDJ")
    create.add_argument("--role", choices=[r.value for r in Role])
    create.add_argument("--building", type=int, help="building number (role scope)")
    create.add_argument("--floors", help="floor range for floor_member, e.g. 13-18")
    create.add_argument("--room", help="bind to one flat, e.g. 1-1-1502")
    create.add_argument("--uses", type=int, default=1)
    create.add_argument("--days", type=int, default=0, help="expires after N days")
    create.add_argument("--code", help="use this code instead of a random one")
    create.add_argument("--note", default="")
    create.set_defaults(func=cmd_invite_create)

    add_telegram_commands(sub)
    add_broadcast_commands(sub, with_db, _settings)
    add_roster_commands(sub, with_db, _settings, invites_sub)
    add_ledger_commands(sub, with_db, _settings)
    add_dashboard_commands(sub, with_db, _settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
