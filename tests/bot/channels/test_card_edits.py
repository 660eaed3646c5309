"""Case cards stay current on Telegram: when a handler gets a new card of a case, the
previous card of that case in their chat is edited to the same current content (no stale
领办 button) and the new card still arrives as a new message. An edit that cannot be
made — the message was deleted, the network failed, the adapter raised — never costs
the new card. The web chat (no edits) gets every card as a new message.

End to end through both Telegram libraries against the local Bot API emulator, and at
the delivery worker's level with a scripted channel."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.channels.base import (
    Outbound,
    Rejected,
    RetryAfter,
    SendResult,
    Sent,
    TransientFailure,
    Unreachable,
)
from bot.channels.recording import RecordingChannel
from bot.channels.telegram.common import TelegramChannel
from bot.channels.web import WebChannel
from bot.core.replies import Button, Reply
from bot.outbox import worker as worker_module
from bot.outbox.enqueue import OutboxWriter
from bot.outbox.worker import OutboxPolicy, OutboxWorker
from bot.storage.db import Database
from bot.storage.models import Case, OutboxMessage, OutboxStatus, utcnow
from tests.factories import SIGNER, Clock
from tests.telegram_app import TelegramBed, adopt_persona, telegram_app

LIBRARIES = ["aiogram", "ptb"]
RESIDENT = 810_001
FLOOR = 810_002
ACCEPT = "领办"
LEAK = "楼上卫生间漏水到我家天花板了，墙皮都泡了"


# -- end to end over Telegram --------------------------------------------------------------
@dataclass
class Telegram(TelegramBed):
    clock: Clock

    async def press(self, user: int, label: str, message_id: int | None = None) -> None:
        """Press the button ``label`` on ``message_id``, or on the latest message having it."""
        for message in reversed(self.world.bot_messages(user)):
            if message_id is not None and message["message_id"] != message_id:
                continue
            for button in _buttons(message):
                if button["text"] == label:
                    raw = self.world.user_presses(
                        user, user, message["message_id"], button["callback_data"]
                    )
                    await self.feed(raw)
                    return
        raise AssertionError(f"no button {label!r} in chat {user}")

    async def tick(self, hours: float) -> int:
        self.clock.advance(hours=hours)
        assert self.app.scheduler is not None
        done = await self.app.scheduler.tick()
        await self.app.worker.drain()
        return done

    async def row_of(self, chat: int, message_id: int) -> OutboxMessage:
        async with self.app.db.transaction() as session:
            row = await session.scalar(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == "telegram",
                    OutboxMessage.chat_id == str(chat),
                    OutboxMessage.platform_message_id == str(message_id),
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
            assert row is not None
            return row


@pytest.fixture(params=LIBRARIES)
async def tg(request: pytest.FixtureRequest, tmp_path, _sqlite_template) -> AsyncIterator[Telegram]:
    db: Database = await _sqlite_template.connect(tmp_path / "linli.db")
    async with telegram_app(db, request.param) as (app, emulator):
        assert app.telegram is not None and app.scheduler is not None
        clock = Clock()
        app.dispatcher.clock = clock
        app.scheduler.clock = clock
        await adopt_persona(app, emulator, "resident-1", RESIDENT, "张秀英")
        await adopt_persona(app, emulator, "floor-1", FLOOR, "李建国")
        yield Telegram(app, emulator, app.telegram, clock)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def _labels(message: dict[str, Any]) -> list[str]:
    return [button["text"] for button in _buttons(message)]


async def _report_leak(tg: Telegram) -> str:
    """resident-1 reports a leak from the flat above; it routes to floor-1."""
    await tg.say(RESIDENT, LEAK)
    if "我要报事" in _labels(tg.world.bot_messages(RESIDENT)[-1]):
        await tg.press(RESIDENT, "我要报事")  # answered as a legal question first
    for label in ("楼上漏水、渗水", "楼上", "下一步", "提交"):
        await tg.press(RESIDENT, label)
    async with tg.app.db.transaction() as session:
        case = await session.scalar(select(Case).order_by(Case.id.desc()).limit(1))
        assert case is not None
        return case.number


async def _first_card(tg: Telegram, number: str) -> dict[str, Any]:
    cards = [m for m in tg.world.bot_messages(FLOOR) if number in (m.get("text") or "")]
    assert len(cards) == 1
    assert (await tg.row_of(FLOOR, cards[0]["message_id"])).payload["key"] == "case.card_new"
    assert ACCEPT in _labels(cards[0])
    return cards[0]


async def test_accepted_case_old_card_shows_current_state_and_new_card_arrives(
    tg: Telegram,
) -> None:
    number = await _report_leak(tg)
    card = await _first_card(tg, number)
    first_id, first_text = card["message_id"], card["text"]

    await tg.press(FLOOR, ACCEPT, message_id=first_id)
    assert any("已领办" in (m.get("text") or "") for m in tg.world.bot_messages(FLOOR))
    before = len(tg.world.bot_messages(FLOOR))

    assert await tg.tick(hours=40) >= 1  # 8 of the 48 hours left: the reminder card
    messages = tg.world.bot_messages(FLOOR)
    assert len(messages) == before + 1  # the new card is a new message (a notification)
    new = messages[-1]
    assert new["message_id"] > first_id
    assert (await tg.row_of(FLOOR, new["message_id"])).payload["key"] == "case.card_reminder"
    assert number in new["text"] and "即将超时" in new["text"]
    assert ACCEPT not in _labels(new)

    old = tg.world.messages[FLOOR][first_id]
    assert old["text"] != first_text and "edit_date" in old
    assert old["text"] == new["text"]  # the case's current state …
    assert _labels(old) == _labels(new)  # … and only the buttons that still apply
    assert ACCEPT not in _labels(old) and "办结" in _labels(old)

    # The edited card's buttons are signed for the handler and work.
    await tg.press(FLOOR, "查看详情", message_id=first_id)
    assert number in tg.world.bot_messages(FLOOR)[-1]["text"]


async def test_only_the_previous_card_is_edited_and_other_messages_edit_nothing(
    tg: Telegram,
) -> None:
    number = await _report_leak(tg)
    first_id = (await _first_card(tg, number))["message_id"]
    await tg.press(FLOOR, ACCEPT, message_id=first_id)
    await tg.tick(hours=40)  # the reminder card; the first card is edited to it
    reminder = dict(tg.world.bot_messages(FLOOR)[-1])  # a copy: edits change the original
    edits = tg.world.calls["editmessagetext"]

    await tg.say(FLOOR, "/help")  # messages that are not cards edit nothing
    assert tg.world.calls["editmessagetext"] == edits

    # Past the deadline: escalated to the building; floor-1 stays on as co-handler and
    # gets the co card, which edits the reminder card — and only that one.
    await tg.tick(hours=9)
    assert tg.world.calls["editmessagetext"] == edits + 1
    co = [m for m in tg.world.bot_messages(FLOOR) if m["message_id"] > reminder["message_id"]]
    co_cards = [m for m in co if number in m["text"] and _labels(m)]
    assert len(co_cards) == 1
    assert (await tg.row_of(FLOOR, co_cards[0]["message_id"])).payload["key"] == "case.card_co"
    assert tg.world.messages[FLOOR][reminder["message_id"]]["text"] == co_cards[0]["text"]
    assert tg.world.messages[FLOOR][first_id]["text"] == reminder["text"]


async def test_deleted_card_message_does_not_cost_the_new_card(tg: Telegram) -> None:
    number = await _report_leak(tg)
    first_id = (await _first_card(tg, number))["message_id"]
    await tg.press(FLOOR, ACCEPT, message_id=first_id)
    del tg.world.messages[FLOOR][first_id]  # the handler deleted the card
    rejected = tg.world.errors[400]

    assert await tg.tick(hours=40) >= 1
    assert tg.world.errors[400] == rejected + 1  # "message to edit not found"
    new = tg.world.bot_messages(FLOOR)[-1]
    assert "即将超时" in new["text"] and number in new["text"]
    row = await tg.row_of(FLOOR, new["message_id"])
    assert row.status == OutboxStatus.SENT and row.attempts == 0


async def test_edit_of_an_unknown_message_still_sends_the_card(tg: Telegram) -> None:
    """The earlier card points at a message Telegram does not know (e.g. a chat that was
    cleared): the edit is rejected, the new card is sent, and the next card edits it."""
    chat = str(FLOOR)
    async with tg.app.db.transaction() as session:
        writer = OutboxWriter(session, tg.app.dispatcher.signer)
        stale, _ = await writer.enqueue(
            channel="telegram", chat_id=chat, audience_id=chat, reply=_card("旧卡片")
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == stale)
            .values(status=OutboxStatus.SENT, platform_message_id="999")
        )
    await _enqueue_card(tg.app, chat, "新卡片")
    await tg.app.worker.drain()
    assert [m["text"] for m in tg.world.bot_messages(FLOOR)] == ["新卡片"]
    assert tg.world.errors[400] == 1

    await _enqueue_card(tg.app, chat, "更新的卡片")
    await tg.app.worker.drain()
    assert [m["text"] for m in tg.world.bot_messages(FLOOR)] == ["更新的卡片", "更新的卡片"]


async def _enqueue_card(app: App, chat: str, text: str) -> int:
    async with app.db.transaction() as session:
        ref, _ = await OutboxWriter(session, app.dispatcher.signer).enqueue(
            channel="telegram", chat_id=chat, audience_id=chat, reply=_card(text)
        )
    return ref


# -- the delivery worker ----------------------------------------------------------------------
def _card(text: str, case: int = 7, accept: bool = True) -> Reply:
    rows = ((Button("领办", f"cs:acc:{case}"),),) if accept else ()
    rows += ((Button("查看详情", f"cs:view:{case}"),),)
    return Reply(text, buttons=rows, key="case.card_new", card=f"case:{case}")


class EditingChannel(RecordingChannel):
    """Records sends and edits; edits answer with scripted results."""

    can_edit: ClassVar[bool] = True

    def __init__(self, name: str = "telegram") -> None:
        super().__init__(name)
        self.edits: list[Outbound] = []
        self.edit_results: deque[SendResult | Exception] = deque()

    async def send(self, message: Outbound) -> SendResult:
        if "edit_message_id" not in message.payload:
            return await super().send(message)
        self.edits.append(message)
        if self.edit_results:
            result = self.edit_results.popleft()
            if isinstance(result, Exception):
                raise result
            return result
        return Sent(str(message.payload["edit_message_id"]))


async def _enqueue(db: Database, reply: Reply, chat: str = "42", channel: str = "telegram") -> int:
    async with db.transaction() as session:
        ref, _ = await OutboxWriter(session, SIGNER).enqueue(
            channel=channel, chat_id=chat, audience_id=chat, reply=reply
        )
    return ref


async def _row(db: Database, ref: int) -> OutboxMessage:
    async with db.transaction() as session:
        row = await session.get(OutboxMessage, ref)
        assert row is not None
        return row


def _worker(db: Database, channel: RecordingChannel, clock: Clock | None = None) -> OutboxWorker:
    """A worker whose clock runs an hour ahead, so rows enqueued later are due at once."""
    clock = clock or Clock(utcnow() + timedelta(hours=1))
    return OutboxWorker(
        db, {channel.name: channel}, OutboxPolicy(backoff_base_seconds=10), clock=clock
    )


def test_a_reply_carries_its_card_through_the_outbox_payload() -> None:
    reply = _card("卡片", case=123)
    payload = reply.to_payload()
    assert payload["card"] == "case:123"
    assert Reply.from_payload(payload).card == "case:123"
    assert "card" not in Reply("普通消息").to_payload()


async def test_new_card_edits_the_latest_earlier_card_of_the_same_case(db: Database) -> None:
    channel = EditingChannel()
    worker = _worker(db, channel)
    await _enqueue(db, _card("案件7 第一张"))  # message 1
    await _enqueue(db, _card("案件8", case=8))  # message 2
    await _enqueue(db, Reply("别的消息"))  # message 3
    await worker.drain()
    assert channel.edits == []  # no earlier card of the same case in the same chat
    await _enqueue(db, _card("案件7 第二张"))  # message 4
    await worker.drain()
    assert [e.payload["edit_message_id"] for e in channel.edits] == ["1"]
    await _enqueue(db, _card("别人的案件7"), chat="43")  # another chat: nothing to edit
    await worker.drain()
    assert len(channel.edits) == 1

    third = await _enqueue(db, _card("案件7 第三张", accept=False))
    await worker.drain()
    assert [m.payload["text"] for m in channel.sent][-1] == "案件7 第三张"
    assert len(channel.edits) == 2
    edit = channel.edits[-1]
    assert edit.chat_id == "42" and edit.payload["edit_message_id"] == "4"  # the second card
    assert edit.payload["text"] == "案件7 第三张"
    assert [b["text"] for row in edit.payload["buttons"] for b in row] == ["查看详情"]
    assert (await _row(db, third)).status == OutboxStatus.SENT


async def test_a_card_further_back_than_the_lookback_is_left_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "CARD_LOOKBACK", 3)
    channel = EditingChannel()
    worker = _worker(db, channel)
    await _enqueue(db, _card("第一张"))
    for i in range(3):
        await _enqueue(db, Reply(f"别的消息{i}"))
    await _enqueue(db, _card("第二张"))
    await worker.drain()
    assert channel.edits == []
    await _enqueue(db, Reply("又一条"))
    await _enqueue(db, _card("第三张"))
    await worker.drain()
    assert [e.payload["edit_message_id"] for e in channel.edits] == ["5"]


async def test_an_earlier_card_that_was_never_sent_is_skipped(db: Database) -> None:
    channel = EditingChannel()
    worker = _worker(db, channel)
    await _enqueue(db, _card("第一张"))
    await worker.drain()
    channel.fail_next(Rejected("Bad Request: something"))
    failed = await _enqueue(db, _card("第二张"))
    await worker.drain()
    assert (await _row(db, failed)).status == OutboxStatus.FAILED
    await _enqueue(db, _card("第三张"))
    await worker.drain()
    assert [e.payload["edit_message_id"] for e in channel.edits] == ["1", "1"]


@pytest.mark.parametrize(
    "failure",
    [
        Rejected("Bad Request: message to edit not found"),
        TransientFailure("ClientConnectorError: reset"),
        Unreachable("Forbidden: bot was blocked by the user"),
        RuntimeError("adapter bug"),
    ],
    ids=["deleted", "network", "unreachable", "adapter-raised"],
)
async def test_a_failed_edit_never_costs_the_new_card(
    db: Database, failure: SendResult | Exception
) -> None:
    channel = EditingChannel()
    worker = _worker(db, channel)
    await _enqueue(db, _card("第一张"))
    await worker.drain()
    channel.edit_results.append(failure)
    ref = await _enqueue(db, _card("第二张"))
    await worker.drain()
    assert len(channel.edits) == 1
    assert [m.payload["text"] for m in channel.sent] == ["第一张", "第二张"]
    row = await _row(db, ref)
    assert row.status == OutboxStatus.SENT and row.attempts == 0 and row.platform_message_id


async def test_a_rate_limited_edit_holds_the_card_back_and_retries_both(db: Database) -> None:
    clock = Clock(utcnow() + timedelta(hours=1))
    channel = EditingChannel()
    worker = _worker(db, channel, clock)
    await _enqueue(db, _card("第一张"))
    await worker.drain()
    channel.edit_results.append(RetryAfter(5))
    ref = await _enqueue(db, _card("第二张"))
    await worker.drain()
    row = await _row(db, ref)
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    assert [m.payload["text"] for m in channel.sent] == ["第一张"]
    clock.advance(seconds=6)
    await worker.drain()
    assert len(channel.edits) == 2
    assert [m.payload["text"] for m in channel.sent] == ["第一张", "第二张"]
    assert (await _row(db, ref)).status == OutboxStatus.SENT


async def test_the_web_chat_gets_every_card_as_a_new_message(db: Database) -> None:
    assert WebChannel.can_edit is False and TelegramChannel.can_edit is True
    channel = RecordingChannel("web")
    worker = _worker(db, channel)
    for text in ("第一张", "第二张"):
        await _enqueue(db, _card(text), chat="floor-1", channel="web")
    await worker.drain()
    assert [m.payload["text"] for m in channel.sent] == ["第一张", "第二张"]
    assert all("edit_message_id" not in m.payload for m in channel.sent)
