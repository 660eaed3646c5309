"""Telegram pipeline throughput: raw updates through each library's adapter into the whole
stack on a SQLite file, against two baselines measured in the same run.

For each library (aiogram 3, python-telegram-bot 22), no network — the library's own
feed method (``Dispatcher.feed_update`` / ``Application.process_update``) and an
in-process transport answered by the emulator's ``World`` (``bench/inprocess.py``):

- ``linli``, questions: registered residents ask legal questions (the dev set's wording);
  each update is stored exactly once with its outbox rows, answered from the knowledge
  base, and delivered by the outbox worker running alongside;
- ``linli``, cases: residents report a leak and walk the report flow to a created case
  (5 updates each, reading the buttons the bot actually sent them);
- ``bare``: the library alone answering each message in-process (the ceiling);
- ``orm``: the library plus one SQLAlchemy ORM transaction per update (store the update
  and an outbox row: the usual idiom), then the answer.

The send rate to Telegram is lifted for linli's runs: the platform's 25 messages a second
would bound delivery, not the pipeline (``bench/broadcast.py`` measures the pacing).

Prints JSON: updates/s, p99 handling latency, ratios to both baselines.
Usage: ``python bench/pipeline.py [--questions 2000] [--cases 200] [--concurrency 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.inprocess import WorldRequest, WorldSession  # noqa: E402
from bot.app import App  # noqa: E402
from bot.channels.null import NullChannel  # noqa: E402
from bot.channels.telegram.common import TelegramChannel, TelegramOptions  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.demo import seed_demo  # noqa: E402
from bot.emulator.world import World  # noqa: E402
from bot.storage.models import (  # noqa: E402
    Base,
    Building,
    ChannelIdentity,
    Floor,
    OutboxMessage,
    OutboxStatus,
    ProcessedUpdate,
    Relation,
    Room,
    Unit,
    User,
)
from handlers.report import sounds_like_report  # noqa: E402
from knowledge import answer as answers  # noqa: E402
from knowledge.recognize import default_recognizer  # noqa: E402

TOKEN = "123:abc"
FIRST_USER = 3_000_000
DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "legal_questions.json"
REPORT = "楼上卫生间漏水到我家天花板了，墙皮都泡了"
REPORT_PRESSES = ("我要报事", "楼上漏水、渗水", "楼上", "下一步", "提交")


def _summary(latencies: list[float], updates: int, elapsed: float) -> dict[str, float]:
    latencies.sort()
    return {
        "updates": updates,
        "seconds": round(elapsed, 3),
        "updates_per_s": round(updates / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2),
    }


async def _spread(
    users: list[int], per_user: int, concurrency: int, step: Callable[[int, int], Awaitable[None]]
) -> float:
    """Run ``step(user, i)`` for each user's updates in order, users concurrently."""
    gate = asyncio.Semaphore(concurrency)

    async def one(user: int) -> None:
        async with gate:
            for i in range(per_user):
                await step(user, i)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in users))
    return time.perf_counter() - started


def _channel(library: str, world: World) -> TelegramChannel:
    options = TelegramOptions(token=TOKEN, api_base="http://in-process")
    if library == "aiogram":
        from bot.channels.telegram.aiogram_channel import AiogramChannel

        return AiogramChannel(options, session=WorldSession(world))
    from telegram import Bot

    from bot.channels.telegram.ptb_channel import PtbChannel

    bot = Bot(TOKEN, request=WorldRequest(world), get_updates_request=WorldRequest(world))
    return PtbChannel(options, bot=bot)


async def _residents(app: App, world: World, count: int) -> list[int]:
    """Registered residents with Telegram accounts, each in a flat that has one above."""
    ids: list[int] = []
    async with app.db.transaction() as session:
        rooms = (
            await session.execute(
                select(Room.id)
                .join(Floor, Floor.id == Room.floor_id)
                .join(Unit, Unit.id == Floor.unit_id)
                .join(Building, Building.id == Unit.building_id)
                .where(Floor.number < 18)
                .order_by(Floor.number.desc(), Room.id)
            )
        ).scalars()
        now = datetime.now(UTC)
        for index, room_id in zip(range(count), rooms, strict=False):
            tg = FIRST_USER + index
            user = User(
                name=f"住户{index}",
                room_id=room_id,
                relation=Relation.OWNER.value,
                registered_at=now,
            )
            session.add(user)
            await session.flush()
            session.add(
                ChannelIdentity(
                    channel="telegram", external_id=str(tg), chat_id=str(tg), user_id=user.id
                )
            )
            world.add_user(tg, f"住户{index}")
            ids.append(tg)
    return ids


async def _pending(app: App) -> int:
    async with app.db.transaction() as session:
        rows = await session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
            )
        )
        return len(list(rows))


async def run_linli(
    library: str, workload: str, n: int, concurrency: int, tmp: Path
) -> dict[str, Any]:
    world = World(TOKEN)
    channel = _channel(library, world)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp}/linli-{library}-{workload}.db",
        secret_key="bench-secret-key",
        files_dir=str(tmp / "files"),
        outbox_poll_seconds=0.05,
        # The platform's 25 messages a second would bound the run, not the pipeline:
        # nothing leaves this process, and bench/broadcast.py measures the pacing.
        telegram_rate_per_second=1_000_000,
    )
    # Handlers of the demo compound use the web chat: their notifications go nowhere here.
    app = App(settings, channels={"telegram": channel, "web": NullChannel()})
    await app.start()
    async with app.db.transaction() as session:
        await seed_demo(session)
    users = await _residents(app, world, min(n, 400) if workload == "cases" else concurrency)
    await channel.start()
    _cold_knowledge()
    stop = asyncio.Event()
    worker = asyncio.create_task(app.worker.run(stop))
    latencies: list[float] = []
    questions = [q["question"] for q in json.loads(DEV_SET.read_text(encoding="utf-8"))]

    async def feed(raw: dict[str, Any]) -> None:
        update = channel.parse(raw)
        started = time.perf_counter()
        await channel.process(update)
        latencies.append(time.perf_counter() - started)

    async def ask(user: int, i: int) -> None:
        await feed(world.user_says(user, questions[(user * 7 + i) % len(questions)]))

    async def reply_with(user: int, label: str, seen: int) -> int:
        """Wait for the bot's answer, then press ``label`` on it (or say the report)."""
        # Until the step's answer arrived and nothing more is on its way: the emulator
        # wakes the resident on each message, the database is asked only then.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            count = len(world.bot_messages(user))
            if count > seen and not await _undelivered(app, user):
                break
            await world.wait_sent(user, max(count, seen), timeout=0.05)
        messages = world.bot_messages(user)
        for message in reversed(messages):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        raw = world.user_presses(
                            user, user, message["message_id"], button["callback_data"]
                        )
                        await feed(raw)
                        return len(messages)
        if label == "我要报事":  # the bot went straight to the report flow
            return seen
        raise RuntimeError(f"no button {label!r} for {user}: {messages[-1].get('text')}")

    async def report(user: int, i: int) -> None:
        await feed(world.user_says(user, REPORT))
        seen = 0
        for label in REPORT_PRESSES:
            seen = await reply_with(user, label, seen)

    per_user = max(1, n // len(users)) if workload == "questions" else 1
    step = ask if workload == "questions" else report
    elapsed = await _spread(users, per_user, concurrency, step)
    while await _pending(app):
        await asyncio.sleep(0.01)
    stop.set()
    await worker
    async with app.db.transaction() as session:
        stored = len(list(await session.scalars(select(ProcessedUpdate.update_id))))
    out = _summary(latencies, len(latencies), elapsed)
    out["stored_updates"] = stored
    out["messages_sent"] = len(world.sent_log)
    if workload == "cases":
        created = sum(
            1
            for m in world.sent_log
            if "编号" in (m.get("text") or "") and "已受理" in (m.get("text") or "")
        )
        out["cases"] = len(users)
        out["cases_created_messages"] = created
        out["cases_per_s"] = round(len(users) / elapsed, 1)
    await channel.stop()
    await app.close()
    return out


def _cold_knowledge() -> None:
    """Indexes loaded, but no question answered yet: every run starts from the same
    state, so the second library does not find the first one's answers or tokens kept."""
    answers.answer_question("热身")  # load jieba and build the FAQ and matter indexes
    sounds_like_report("热身")
    answers.forget_answers()
    default_recognizer().forget()


async def _undelivered(app: App, user: int) -> bool:
    async with app.db.snapshot() as session:  # a read: never queue for the write lock
        row = await session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.chat_id == str(user),
                OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
            )
            .limit(1)
        )
    return row is not None


# -- baselines ----------------------------------------------------------------------------
class OrmIdiom:
    """One ORM transaction per update: store the update and an outbox row."""

    def __init__(self, path: Path) -> None:
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def setup(self) -> None:
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            await conn.run_sync(Base.metadata.create_all)

    async def store(self, update_id: int, chat_id: int, text: str) -> None:
        async with self.sessions() as session, session.begin():
            session.add(
                ProcessedUpdate(
                    channel="telegram",
                    update_id=str(update_id),
                    user_id=str(chat_id),
                    reply_refs=[],
                    processed_at=datetime.now(UTC),
                )
            )
            session.add(
                OutboxMessage(channel="telegram", chat_id=str(chat_id), payload={"text": text})
            )


async def run_baseline(
    library: str, orm: bool, n: int, concurrency: int, tmp: Path
) -> dict[str, Any]:
    world = World(TOKEN)
    users = [FIRST_USER + i for i in range(concurrency)]
    for user in users:
        world.add_user(user)
    idiom = OrmIdiom(tmp / f"orm-{library}.db") if orm else None
    if idiom is not None:
        await idiom.setup()
    questions = [q["question"] for q in json.loads(DEV_SET.read_text(encoding="utf-8"))]
    latencies: list[float] = []

    async def answer(
        update_id: int, chat_id: int, text: str, reply: Callable[[str], Awaitable[Any]]
    ) -> None:
        if idiom is not None:
            await idiom.store(update_id, chat_id, text)
        await reply("收到：" + text[:20])

    if library == "aiogram":
        from aiogram import Bot, Dispatcher
        from aiogram.types import Message, Update

        bot = Bot(TOKEN, session=WorldSession(world))
        dp = Dispatcher()

        @dp.message()
        async def on_message(message: Message, event_update: Update) -> None:
            await answer(
                event_update.update_id, message.chat.id, message.text or "", message.answer
            )

        async def feed(raw: dict[str, Any]) -> None:
            await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))

        closer: Callable[[], Awaitable[Any]] = bot.session.close
    else:
        from telegram import Bot as PtbBot
        from telegram import Update as PtbUpdate
        from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

        ptb_bot = PtbBot(
            TOKEN, request=WorldRequest(world), get_updates_request=WorldRequest(world)
        )
        application = ApplicationBuilder().bot(ptb_bot).updater(None).build()

        async def on_update(update: PtbUpdate, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await answer(
                update.update_id,
                update.message.chat.id,
                update.message.text or "",
                update.message.reply_text,
            )

        application.add_handler(MessageHandler(filters.TEXT, on_update))
        await application.initialize()

        async def feed(raw: dict[str, Any]) -> None:
            await application.process_update(PtbUpdate.de_json(raw, ptb_bot))

        closer = application.shutdown

    async def step(user: int, i: int) -> None:
        raw = world.user_says(user, questions[(user * 7 + i) % len(questions)])
        started = time.perf_counter()
        await feed(raw)
        latencies.append(time.perf_counter() - started)

    elapsed = await _spread(users, max(1, n // len(users)), concurrency, step)
    await closer()
    if idiom is not None:
        await idiom.engine.dispose()
    out = _summary(latencies, len(latencies), elapsed)
    out["messages_sent"] = len(world.sent_log)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"benchmark": "pipeline"}
    with tempfile.TemporaryDirectory(prefix="linli-pipeline-") as tmp_name:
        tmp = Path(tmp_name)
        for library in args.libraries:
            bare = await run_baseline(library, False, args.questions, args.concurrency, tmp)
            orm = await run_baseline(library, True, args.questions, args.concurrency, tmp)
            questions = await run_linli(library, "questions", args.questions, args.concurrency, tmp)
            cases = await run_linli(library, "cases", args.cases, args.concurrency, tmp)
            results[library] = {
                "bare": bare,
                "orm_idiom": orm,
                "linli_questions": questions,
                "linli_cases": cases,
                "questions_ratio_to_bare": round(
                    questions["updates_per_s"] / bare["updates_per_s"], 3
                ),
                "questions_ratio_to_orm": round(
                    questions["updates_per_s"] / orm["updates_per_s"], 3
                ),
            }
    results["machine"] = f"{platform.machine()} Python {platform.python_version()}"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--libraries", nargs="+", default=["aiogram", "ptb"])
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
