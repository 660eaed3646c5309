"""``linli broadcast …``: legal-education notices and quiz campaigns from the command
line (an operator's broadcast: any target, no sender to notify).

The command only stores the broadcast — and, when it is due now, its outbox rows; the
running server's delivery worker sends them at the configured rate, and its scheduler
starts the ones given ``--at``. ``status`` reads the counts back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.app import App
from bot.config import Settings
from bot.core.catalog import load_catalog
from bot.outbox.enqueue import OutboxWriter
from bot.storage.files import BadUpload, FileStore, StoredDocument
from bot.storage.models import Broadcast, BroadcastKind, utcnow
from handlers.broadcast_targets import TargetError, check_targets, parse_targets
from handlers.broadcasts import BroadcastService, describe_targets
from handlers.quiz import QUESTIONS_PER_QUIZ, pick_questions


def _at(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise SystemExit("--at needs a time zone, e.g. 2026-11-26T09:00+08:00")
    return moment


async def _with_service(settings: Settings, work: Any) -> Any:
    app = App(settings, channels={})
    await app.start()
    try:
        assert app.signer is not None
        async with app.db.transaction() as session:
            service = BroadcastService(
                session, OutboxWriter(session, app.signer), app.catalog, utcnow()
            )
            return await work(service)
    finally:
        await app.close()


def _summary(service: BroadcastService, broadcast: Broadcast, progress: Any) -> dict[str, Any]:
    return {
        "id": broadcast.id,
        "kind": broadcast.kind,
        "status": broadcast.status,
        "targets": broadcast.targets,
        "targets_text": describe_targets(service.catalog, broadcast.targets),
        "scheduled_at": broadcast.scheduled_at.isoformat(),
        "started_at": broadcast.started_at.isoformat() if broadcast.started_at else None,
        "finished_at": broadcast.finished_at.isoformat() if broadcast.finished_at else None,
        **progress.as_dict(),
    }


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    if args.file:
        text = Path(args.file).read_text(encoding="utf-8").strip()
    else:
        text = (args.text or "").strip()
    kind = BroadcastKind.QUIZ if args.broadcast_command == "quiz" else BroadcastKind.NOTICE
    if kind is BroadcastKind.NOTICE and not text:
        raise SystemExit("give the notice with --text or --file")
    at = _at(args.at)

    async def work(service: BroadcastService) -> dict[str, Any]:
        try:
            targets = parse_targets(args.to)
            await check_targets(service.session, targets, None)
        except TargetError as error:
            raise SystemExit(str(error)) from None
        photo, document = _attachments(args, settings)
        questions = (
            pick_questions(f"cli:{utcnow().isoformat()}", args.questions)
            if kind is BroadcastKind.QUIZ
            else []
        )
        broadcast = await service.compose(
            sender_id=None,
            compound_id=None,
            targets=[t.spec for t in targets],
            text=text,
            photo=photo,
            document=document,
            at=at,
            kind=kind,
            questions=questions,
        )
        return _summary(service, broadcast, await service.progress(broadcast))

    print(json.dumps(asyncio.run(_with_service(settings, work)), ensure_ascii=False, indent=2))
    return 0


def _attachments(
    args: argparse.Namespace, settings: Settings
) -> tuple[str | None, StoredDocument | None]:
    """The notice's photo and document, checked and stored like a chat upload; a file
    that is missing or not one we take stops the command with the reason."""
    store = FileStore(Path(settings.files_dir))
    photo = document = None
    try:
        if getattr(args, "photo", None):
            photo = store.save_image(Path(args.photo).read_bytes())
        if getattr(args, "attach", None):
            path = Path(args.attach)
            document = store.save_document(path.read_bytes(), path.name)
    except OSError as exc:
        raise SystemExit(f"cannot read {exc.filename}: {exc.strerror}") from None
    except BadUpload as exc:
        raise SystemExit(f"refused: {load_catalog(settings.locale).t(exc.reason)}") from None
    return photo, document


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    async def work(service: BroadcastService) -> dict[str, Any] | None:
        broadcast = await service.session.get(Broadcast, args.id)
        if broadcast is None:
            return None
        if args.broadcast_command == "cancel" and not await service.cancel(broadcast, None):
            raise SystemExit(f"broadcast {args.id} is {broadcast.status}: it cannot be cancelled")
        return _summary(service, broadcast, await service.progress(broadcast))

    result = asyncio.run(_with_service(settings, work))
    if result is None:
        print(f"no broadcast {args.id}", file=sys.stderr)
        return 1
    if getattr(args, "json", False) or args.broadcast_command == "cancel":
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(
            f"#{result['id']} {result['kind']} [{result['status']}] {result['targets_text']}\n"
            f"recipients {result['recipients']}: sent {result['sent']}, queued "
            f"{result['queued']}, failed {result['failed']}, unreachable {result['unreachable']}"
        )
    return 0


def add_broadcast_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    with_db: Any,
    settings_of: Any,
) -> None:
    broadcast = sub.add_parser("broadcast", help="legal-education notices and quizzes")
    broadcast_sub = broadcast.add_subparsers(dest="broadcast_command", required=True)
    targets_help = "compound:CODE | building:CODE-N[,CODE-M] | role:ROLE[@CODE] | all (repeatable)"
    send = with_db(broadcast_sub.add_parser("send", help="send a notice"))
    body = send.add_mutually_exclusive_group(required=True)
    body.add_argument("--text", help="the notice")
    body.add_argument("--file", help="a UTF-8 text file with the notice")
    send.add_argument("--photo", help="an image to send with it")
    send.add_argument("--attach", help="a PDF, Word, Excel or PowerPoint file to send with it")
    quiz = with_db(broadcast_sub.add_parser("quiz", help="start a quiz campaign"))
    quiz.add_argument("--text", help="an introduction above the first question")
    quiz.add_argument("--file", help=argparse.SUPPRESS)
    quiz.add_argument("--questions", type=int, default=QUESTIONS_PER_QUIZ)
    for parser in (send, quiz):
        parser.add_argument("--to", action="append", required=True, help=targets_help)
        parser.add_argument("--at", help="ISO time with zone; default now")
        parser.set_defaults(func=lambda a: cmd_send(a, settings_of(a)))
    status = with_db(broadcast_sub.add_parser("status", help="delivery counts"))
    status.add_argument("id", type=int)
    status.add_argument("--json", action="store_true")
    cancel = with_db(broadcast_sub.add_parser("cancel", help="cancel before it starts"))
    cancel.add_argument("id", type=int)
    for parser in (status, cancel):
        parser.set_defaults(func=lambda a: cmd_status(a, settings_of(a)))
