"""``linli ledger export|evaluation`` and ``linli stats``: the case ledger as a workbook,
the 三维考评 sheet, and the statistics as text, JSON or PNG charts.

All of them read one read-only snapshot of the database (``Database.snapshot``), so an
export of a large ledger neither blocks the running bot nor sees half a change, and the
numbers of ``stats --json`` are those of the workbook's statistics sheet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.core.catalog import load_catalog
from bot.storage.db import Database
from bot.storage.models import utcnow
from handlers.statistics import (
    Period,
    Scope,
    Statistics,
    UnknownCompound,
    compound_ids,
    compute_statistics,
)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _period(args: argparse.Namespace, settings: Settings) -> Period:
    if args.first and args.last and args.first > args.last:
        raise SystemExit("--from is after --to")
    return Period(args.first, args.last, settings.timezone)


async def _in_snapshot(settings: Settings, args: argparse.Namespace, work: Any) -> Any:
    db = Database(settings.database_url)
    try:
        async with db.snapshot() as session:
            try:
                scope = Scope(compound_ids=await compound_ids(session, args.compound or []))
            except UnknownCompound as error:
                raise SystemExit(str(error)) from None
            return await work(session, scope)
    finally:
        await db.dispose()


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.ledger_export import LedgerOptions, export_ledger

    catalog = load_catalog(settings.locale)
    out = Path(args.out)

    async def work(session: Any, scope: Scope) -> Any:
        options = LedgerOptions(
            period=_period(args, settings),
            scope=scope,
            reveal=args.reveal,
            weights=settings.evaluation_weight_pair,
            now=utcnow(),
        )
        return await export_ledger(session, out, catalog, options)

    summary = asyncio.run(_in_snapshot(settings, args, work))
    print(f"wrote {out}: {summary.cases} cases, {summary.events} events")
    if args.reveal:
        print(f"warning: personal data in {out} is NOT masked", file=sys.stderr)
    return 0


def cmd_evaluation(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.evaluation import export_evaluation

    catalog = load_catalog(settings.locale)
    out = Path(args.out)

    async def work(session: Any, scope: Scope) -> Statistics:
        return await compute_statistics(session, _period(args, settings), scope, now=utcnow())

    stats = asyncio.run(_in_snapshot(settings, args, work))
    rows = export_evaluation(out, stats, catalog, settings.evaluation_weight_pair)
    print(f"wrote {out}: {rows} people")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog(settings.locale)

    async def work(session: Any, scope: Scope) -> Statistics:
        return await compute_statistics(session, _period(args, settings), scope, now=utcnow())

    stats = asyncio.run(_in_snapshot(settings, args, work))
    if args.json:
        print(json.dumps(stats.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(_table(stats))
    if args.charts:
        from handlers.charts import NoChineseFont, write_charts

        try:
            paths = write_charts(stats, catalog, Path(args.charts))
        except NoChineseFont as error:
            print(f"charts not drawn: {error}", file=sys.stderr)
            return 1
        print(f"charts: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _table(stats: Statistics) -> str:
    lines = [
        "month    compound  cases  open  resolved  on-time  avg-h  satisfied  score  "
        "at-home  escalations"
    ]
    rows = [(m.month, m.compound, m.figures) for m in stats.months]
    rows.append(("total", "", stats.total))
    for month, compound, f in rows:
        hours = "-" if f.avg_hours_to_resolve is None else f"{f.avg_hours_to_resolve:.1f}"
        score = "-" if f.satisfaction_score is None else f"{f.satisfaction_score:.1f}"
        lines.append(
            f"{month:<8} {compound:<9} {f.cases:>5} {f.open:>5} {f.resolved:>9} "
            f"{_percent(f.on_time_rate):>8} {hours:>6} {_percent(f.satisfied_share):>10} "
            f"{score:>6} {_percent(f.home_level_rate):>8} {f.escalations:>12}"
        )
    if stats.handlers:
        lines += ["", "handler      compound  led  resolved  on-time  satisfied  score"]
        for h in stats.handlers:
            f = h.figures
            score = "-" if f.satisfaction_score is None else f"{f.satisfaction_score:.1f}"
            lines.append(
                f"{h.name:<10} {h.compound:<9} {f.cases:>4} {f.resolved:>9} "
                f"{_percent(f.on_time_rate):>8} {_percent(f.satisfied_share):>10} {score:>6}"
            )
    return "\n".join(lines)


def _period_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="first", type=_day, help="first day, YYYY-MM-DD (local time)"
    )
    parser.add_argument("--to", dest="last", type=_day, help="last day, included")
    parser.add_argument(
        "--compound", action="append", help="compound code, e.g. SDDJ (repeatable; default all)"
    )


def add_ledger_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    with_db: Any,
    settings_of: Any,
) -> None:
    ledger = sub.add_parser("ledger", help="the case ledger workbook and the 三维考评 sheet")
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True)
    export = with_db(
        ledger_sub.add_parser("export", help="cases, events, statistics, 三维考评 as .xlsx")
    )
    export.add_argument("--out", required=True, help="the workbook to write, e.g. ledger.xlsx")
    export.add_argument(
        "--reveal",
        action="store_true",
        help="administrators only: reporters' names, phones and rooms unmasked",
    )
    _period_arguments(export)
    export.set_defaults(func=lambda a: cmd_export(a, settings_of(a)))
    evaluation = with_db(
        ledger_sub.add_parser("evaluation", help="the 三维考评 sheet alone, for the branch")
    )
    evaluation.add_argument("--out", required=True)
    _period_arguments(evaluation)
    evaluation.set_defaults(func=lambda a: cmd_evaluation(a, settings_of(a)))

    stats = with_db(sub.add_parser("stats", help="ledger statistics per month and handler"))
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--charts", metavar="DIR", help="also write PNG charts into DIR")
    _period_arguments(stats)
    stats.set_defaults(func=lambda a: cmd_stats(a, settings_of(a)))
