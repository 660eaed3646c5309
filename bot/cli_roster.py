"""``linli roster import`` and ``linli invites export``: loading a compound from a
spreadsheet, and printing its invite codes as QR cards.

The import checks the whole file first and writes nothing when anything is wrong: the
operator gets every problem by sheet, row and column (``--json`` for scripts) and an
exit code of 1. A clean file is written in one transaction; importing it again changes
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from bot.core.catalog import load_catalog
from bot.invite_qr import find_cjk_font, qr_card
from bot.storage.db import Database
from bot.storage.models import Compound, utcnow
from handlers.invite_cards import InviteCard, invite_cards
from handlers.roster import Roster, load_roster
from handlers.roster_import import ImportSummary, database_problems, import_roster
from handlers.roster_sheets import Problem

INDEX_COLUMNS = (
    "code",
    "kind",
    "compound",
    "label",
    "uses",
    "max_uses",
    "expires_at",
    "link",
    "file",
)


# -- roster import ----------------------------------------------------------------------
async def _write(
    settings: Settings, roster: Roster, check_only: bool
) -> tuple[ImportSummary | None, list[Problem]]:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            problems = await database_problems(session, roster)
            if problems or check_only:
                return None, problems
            return await import_roster(session, roster, utcnow()), []
    finally:
        await db.dispose()


def cmd_roster_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    roster, problems = load_roster(path)
    summary: ImportSummary | None = None
    if not problems:
        summary, problems = asyncio.run(_write(settings, roster, args.check))
    ok = not problems
    if args.json:
        report = {
            "file": str(path),
            "ok": ok,
            "imported": summary is not None,
            "problems": [p.as_dict() for p in problems],
            "warnings": roster.warnings if ok else [],
            "summary": summary.as_dict() if summary else None,
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0 if ok else 1
    if not ok:
        print(f"{path.name}: {len(problems)} problem(s); nothing was imported")
        for problem in problems:
            print(f"  {problem}")
        return 1
    if summary is None:
        print(f"{path.name}: no problems found (checked only, nothing written)")
    else:
        print(f"imported {path.name}")
        for line in summary.lines():
            print(f"  {line}")
    for warning in roster.warnings:
        print(f"  warning: {warning}")
    return 0


# -- invites export ---------------------------------------------------------------------
async def _cards(settings: Settings, compound: str | None) -> list[InviteCard]:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            if compound is not None:
                found = await session.scalar(select(Compound).where(Compound.code == compound))
                if found is None:
                    raise SystemExit(f"no compound with code {compound!r}")
            return await invite_cards(session, load_catalog(settings.locale), utcnow(), compound)
    finally:
        await db.dispose()


def cmd_invites_export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        font = find_cjk_font(args.font)
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from None
    cards = asyncio.run(_cards(settings, args.compound))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog(settings.locale)
    rows: list[dict[str, Any]] = []
    for card in cards:
        link = (
            card.telegram_link(args.telegram_bot)
            if args.telegram_bot
            else card.web_link(settings.base_url)
        )
        caption = [
            card.label,
            catalog.t("invite_card.caption", compound=card.compound_name, code=card.code),
        ]
        name = f"{card.code}.png"
        (out / name).write_bytes(qr_card(link, caption, card.code, font))
        rows.append(
            {
                "code": card.code,
                "kind": card.kind,
                "compound": card.compound,
                "label": card.label,
                "uses": card.uses,
                "max_uses": card.max_uses,
                "expires_at": card.expires_at.isoformat() if card.expires_at else "",
                "link": link,
                "file": name,
            }
        )
    # utf-8-sig: Excel on a Chinese Windows opens it with the names intact.
    with (out / "index.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(cards)} QR code(s) and index.csv to {out}")
    if font is None and cards:
        print("no CJK font found: captions show the code only (give one with --font)")
    return 0


# -- wiring -----------------------------------------------------------------------------
def add_roster_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    with_db: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    settings_of: Callable[[argparse.Namespace], Settings],
    invites: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """``roster import`` under ``sub``; ``export`` under the existing ``invites`` command."""
    roster = sub.add_parser("roster", help="load compounds and people from a spreadsheet")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    load = with_db(roster_sub.add_parser("import", help="import a roster .xlsx or .csv"))
    load.add_argument("file", help="the roster: .xlsx (see deploy/roster/) or .csv")
    load.add_argument("--json", action="store_true", help="print the report as JSON")
    load.add_argument("--check", action="store_true", help="check only; write nothing")
    load.set_defaults(func=lambda a: cmd_roster_import(a, settings_of(a)))

    export = with_db(invites.add_parser("export", help="a QR code PNG per usable invite"))
    export.add_argument("--out", required=True, help="directory for the PNGs and index.csv")
    export.add_argument("--compound", help="only this compound's invites, e.g. HYJY")
    export.add_argument(
        "--telegram-bot", help="link to https://t.me/BOT?start=CODE instead of the web chat"
    )
    export.add_argument("--font", help="a TTF/TTC font with Chinese glyphs for the captions")
    export.set_defaults(func=lambda a: cmd_invites_export(a, settings_of(a)))
