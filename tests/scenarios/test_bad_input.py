"""Bad input gets a clear answer and changes nothing, on every channel."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.buttons import pack
from bot.storage.models import ConversationState, OutboxMessage, ProcessedUpdate, User
from tests.chat import ChatDriver


async def _state(chat: ChatDriver, user: str) -> tuple[str | None, str | None, dict]:
    async with chat.app.db.transaction() as session:
        me = chat.platform_id(user)
        row = await session.get(ConversationState, (chat.channel, me, me, ""))
        assert row is not None
        return row.flow, row.step, dict(row.data)


async def test_unknown_text_from_a_resident_gets_the_menu(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "今天天气怎么样")
    assert chat.keys(replies) == ["menu.view"]
    assert "没有理解" in replies[0].text
    assert "我的信息" in replies[0].button_texts()


async def test_unknown_command_names_it_and_shows_the_menu(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "/frobnicate")
    assert "/frobnicate" in replies[0].text
    assert replies[0].buttons


async def test_ten_thousand_characters_are_refused_with_the_limit_and_not_stored(
    chat: ChatDriver,
) -> None:
    await chat.say("guest-1", "1栋1单元")
    before = await _state(chat, "guest-1")
    secret = "漏" * 10_000
    replies = await chat.say("guest-1", secret)
    assert chat.keys(replies) == ["errors.too_long"]
    assert "4000" in replies[0].text and "10000" in replies[0].text
    assert await _state(chat, "guest-1") == before
    async with chat.app.db.transaction() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.payload["text"].as_string().contains("漏漏漏"))
        )
    assert stored == 0


async def test_forged_button_is_refused_and_changes_nothing(chat: ChatDriver) -> None:
    await chat.say("guest-2", "/start")
    before = await _state(chat, "guest-2")
    for forged in ["s:abcdef:1.AAAAAAAAAAA", "coverage", "me.", "", "x" * 200]:
        replies = await chat.send("guest-2", button=forged)
        assert chat.keys(replies) == ["errors.forged_button"], forged
    assert await _state(chat, "guest-2") == before


async def test_button_signed_for_someone_else_is_refused(chat: ChatDriver) -> None:
    replies = await chat.say("secretary", "菜单")
    coverage = next(b for row in replies[0].buttons for b in row if b.text == "登记情况")
    stolen = await chat.send("resident-1", button=coverage.data)
    assert chat.keys(stolen) == ["errors.forged_button"]


async def test_stale_step_button_is_refused_and_changes_nothing(chat: ChatDriver) -> None:
    await chat.say("guest-3", "/start")
    old_one = chat.button_data("guest-3", "1栋")
    old_two = chat.button_data("guest-3", "2栋")
    await chat.send("guest-3", button=old_one)
    before = await _state(chat, "guest-3")
    replies = await chat.send("guest-3", button=old_two)
    assert chat.keys(replies) == ["errors.stale_button"]
    assert await _state(chat, "guest-3") == before


async def test_button_of_a_finished_flow_is_stale(chat: ChatDriver) -> None:
    await chat.say("guest-4", "/start")
    old = chat.button_data("guest-4", "1栋")
    await chat.say("guest-4", "取消")
    replies = await chat.send("guest-4", button=old)
    assert chat.keys(replies) == ["errors.stale_button"]


async def test_unregistered_user_pressing_a_handler_button_is_denied(chat: ChatDriver) -> None:
    signer = chat.app.dispatcher.signer
    data = signer.sign(pack("coverage"), chat.audience("guest-5"))
    replies = await chat.send("guest-5", button=data)
    assert chat.keys(replies) == ["errors.need_registration"]


async def test_resident_pressing_a_handler_button_is_denied(chat: ChatDriver) -> None:
    signer = chat.app.dispatcher.signer
    replies = await chat.send(
        "resident-1", button=signer.sign(pack("coverage"), chat.audience("resident-1"))
    )
    assert chat.keys(replies) == ["errors.denied"]
    replies = await chat.say("resident-1", "/coverage")
    assert chat.keys(replies) == ["errors.denied"]


async def test_unregistered_user_asking_for_me_is_told_to_register(chat: ChatDriver) -> None:
    replies = await chat.say("guest-6", "/me")
    assert chat.keys(replies) == ["errors.need_registration"]


async def test_redelivered_message_changes_nothing_and_sends_nothing_twice(
    chat: ChatDriver,
) -> None:
    first = await chat.say("guest-7", "1栋1单元1502", update_id="upd-1")
    state = await _state(chat, "guest-7")
    second = await chat.say("guest-7", "1栋1单元1502", update_id="upd-1")
    assert [r.text for r in second] == [r.text for r in first]
    assert await _state(chat, "guest-7") == state
    async with chat.app.db.transaction() as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.chat_id == chat.platform_id("guest-7"))
        )
        updates = await session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.user_id == chat.platform_id("guest-7"))
        )
    assert rows == len(first) and updates == 1
    await chat.deliver()
    assert len(await chat.inbox("guest-7")) == len(first)


async def test_redelivered_confirmation_registers_once(chat: ChatDriver) -> None:
    await chat.say("guest-8", "1栋1单元1502")
    await chat.press("guest-8", "业主")
    data = chat.button_data("guest-8", "确认")
    await chat.send("guest-8", button=data, update_id="confirm-1")
    again = await chat.send("guest-8", button=data, update_id="confirm-1")
    assert "登记成功" in again[-1].text
    async with chat.app.db.transaction() as session:
        owners = await session.scalar(
            select(func.count()).select_from(User).where(User.registered_at.is_not(None))
        )
    assert owners == 1


async def test_a_report_description_stops_growing_at_the_message_limit_and_says_so(
    chat: ChatDriver,
) -> None:
    replies = await chat.report("resident-1", "楼上卫生间漏水到我家天花板了，墙皮都泡了")
    assert replies[-1].key == "report.ask_matter"
    more = "补充一下：楼上卫生间一直漏水，水顺着天花板滴到我家客厅，墙皮都泡了。" * 40
    for _ in range(2):
        replies = await chat.say("resident-1", more)
        assert chat.keys(replies) == ["report.ask_matter"]
    flow, step, data = await _state(chat, "resident-1")
    kept = data["text"]
    replies = await chat.say("resident-1", more)
    assert chat.keys(replies) == ["report.description_full", "report.ask_matter"]
    assert "4000" in replies[0].text
    assert await _state(chat, "resident-1") == (flow, step, {**data, "text": kept})
    assert len(kept) <= 4000
