"""Registration and recognition, on every channel and every database backend."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.storage.models import User
from handlers.structure import Shape, create_compound
from tests.chat import ChatDriver


async def test_demo_resident_is_recognised_on_start(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "/start")
    assert chat.keys(replies) == ["menu.view"]
    assert "张秀英" in replies[0].text and "1栋1单元1502" in replies[0].text


async def test_new_user_registers_with_buttons_and_is_recognised_next_time(
    chat: ChatDriver,
) -> None:
    await chat.dialog(
        "guest-1",
        [
            ("/start", "register.ask_building"),
            ("[1栋]", "register.ask_unit"),
            ("[2单元]", "register.ask_room"),
            ("1502", "register.ask_relation"),
            ("[租户]", "register.confirm"),
        ],
    )
    assert "1栋2单元1502" in chat.last["guest-1"][-1].text
    assert "租户" in chat.last["guest-1"][-1].text
    replies = await chat.press("guest-1", "确认")
    assert "登记成功" in replies[-1].text
    again = await chat.say("guest-1", "/start")
    assert "欢迎回来" in again[0].text and "1栋2单元1502" in again[0].text
    me = await chat.say("guest-1", "/me")
    assert "1栋2单元1502" in me[0].text and "租户" in me[0].text


@pytest.mark.parametrize(
    "typed",
    ["1栋2单元1502", "1-2-1502", "一栋二单元1502室", "我住 1 栋 2 单元 1502", "１栋２单元１５０２"],
)
async def test_address_typed_in_one_line_skips_to_relation(chat: ChatDriver, typed: str) -> None:
    await chat.say("guest-2", "/start")
    replies = await chat.say("guest-2", typed)
    assert chat.keys(replies) == ["register.ask_relation"]
    await chat.press("guest-2", "业主")
    confirm = chat.last["guest-2"][-1]
    assert "1栋2单元1502" in confirm.text


async def test_first_message_that_is_an_address_starts_registration_with_it(
    chat: ChatDriver,
) -> None:
    replies = await chat.say("guest-3", "3栋1单元402")
    assert chat.keys(replies) == ["start.welcome_new", "register.ask_relation"]


async def test_address_without_unit_asks_only_for_the_unit(chat: ChatDriver) -> None:
    await chat.say("guest-4", "/start")
    replies = await chat.say("guest-4", "2栋")
    assert chat.keys(replies) == ["register.ask_unit"]
    replies = await chat.say("guest-4", "1单元1203")
    assert chat.keys(replies) == ["register.ask_relation"]


async def test_non_existent_room_is_asked_again_with_the_valid_range(chat: ChatDriver) -> None:
    await chat.say("guest-5", "/start")
    await chat.press("guest-5", "1栋")
    await chat.press("guest-5", "1单元")
    replies = await chat.say("guest-5", "1905")
    assert chat.keys(replies) == ["register.room_not_found"]
    assert "1905" in replies[0].text and "101" in replies[0].text and "1802" in replies[0].text
    replies = await chat.say("guest-5", "1802")
    assert chat.keys(replies) == ["register.ask_relation"]


async def test_non_existent_building_is_refused_and_asked_again(chat: ChatDriver) -> None:
    await chat.say("guest-6", "/start")
    replies = await chat.say("guest-6", "9栋1单元101")
    assert chat.keys(replies) == ["register.building_not_found", "register.ask_building"]


async def test_unreadable_room_is_asked_again(chat: ChatDriver) -> None:
    await chat.say("guest-7", "1栋1单元")
    replies = await chat.say("guest-7", "不知道")
    assert chat.keys(replies) == ["register.room_unreadable"]


@pytest.mark.parametrize("word", ["/cancel", "取消"])
async def test_cancel_leaves_registration_at_any_step_and_saves_nothing(
    chat: ChatDriver, word: str
) -> None:
    async with chat.app.db.transaction() as session:
        seeded = await session.scalar(select(func.count()).select_from(User))
    await chat.say("guest-8", "/start")
    await chat.press("guest-8", "1栋")
    await chat.press("guest-8", "1单元")
    await chat.say("guest-8", "1501")
    replies = await chat.say("guest-8", word)
    assert chat.keys(replies) == ["menu.view"]
    assert "已取消" in replies[0].text
    async with chat.app.db.transaction() as session:
        users = await session.scalar(select(func.count()).select_from(User))
    assert users == seeded
    replies = await chat.say("guest-8", "1501")
    assert chat.keys(replies) == ["start.welcome_new", "register.ask_building"]


async def test_cancel_outside_a_flow_says_nothing_was_in_progress(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "取消")
    assert "没有进行中的操作" in replies[0].text


async def test_several_residents_may_register_to_one_room(chat: ChatDriver) -> None:
    for guest in ("guest-a", "guest-b"):
        await chat.say(guest, "1栋1单元1502")
        await chat.press(guest, "家庭成员")
        replies = await chat.press(guest, "确认")
        assert "登记成功" in replies[-1].text
    async with chat.app.db.transaction() as session:
        living = await session.scalar(
            select(func.count()).select_from(User).where(User.relation == "family")
        )
    assert living == 2


async def test_resident_changes_address(chat: ChatDriver) -> None:
    await chat.say("resident-2", "/me")
    await chat.press("resident-2", "更改住址")
    await chat.say("resident-2", "5栋2单元803")
    await chat.press("resident-2", "业主")
    replies = await chat.press("resident-2", "确认")
    assert "住址已更新" in replies[-1].text and "5栋2单元803" in replies[-1].text
    me = await chat.say("resident-2", "/me")
    assert "5栋2单元803" in me[0].text


async def test_confirmation_can_be_redone(chat: ChatDriver) -> None:
    await chat.say("guest-9", "1栋1单元1502")
    await chat.press("guest-9", "业主")
    replies = await chat.press("guest-9", "重新填写")
    assert chat.keys(replies) == ["register.ask_building"]


async def test_typed_yes_confirms(chat: ChatDriver) -> None:
    await chat.say("guest-10", "1栋1单元1502")
    await chat.say("guest-10", "我是业主")
    replies = await chat.say("guest-10", "对的")
    assert "登记成功" in replies[-1].text


async def test_menus_differ_for_residents_and_handlers(chat: ChatDriver) -> None:
    resident = await chat.say("resident-1", "菜单")
    secretary = await chat.say("secretary", "菜单")
    assert "登记情况" not in resident[0].button_texts()
    assert "登记情况" in secretary[0].button_texts()
    assert "小区党支部书记" in secretary[0].text


async def test_me_shows_duties_with_scope(chat: ChatDriver) -> None:
    replies = await chat.say("floor-1", "/me")
    assert "党员责任区联系人（1栋 13–18 层）" in replies[0].text
    leader = await chat.say("leader-b1", "/me")
    assert "楼栋长（时代帝景1栋）" in leader[0].text


async def test_secretary_sees_registration_coverage(chat: ChatDriver) -> None:
    replies = await chat.say("secretary", "登记情况")
    assert chat.keys(replies) == ["coverage.view"]
    text = replies[0].text
    assert "1栋" in text and "6栋" in text and "合计" in text


async def test_help_lists_only_commands_this_user_may_use(chat: ChatDriver) -> None:
    resident = await chat.say("resident-1", "帮助")
    secretary = await chat.say("secretary", "/help")
    assert "/coverage" not in resident[0].text and "/me" in resident[0].text
    assert "/coverage" in secretary[0].text


async def test_with_several_compounds_the_resident_chooses_by_button_or_name(
    chat: ChatDriver,
) -> None:
    async with chat.app.db.transaction() as session:
        await create_compound(session, "HYJY", "洪雅家园", Shape(2, 1, 6, [2]))
    replies = await chat.say("guest-c", "/start")
    assert chat.keys(replies) == ["start.welcome_new", "register.ask_compound"]
    assert replies[-1].button_texts() == ["时代帝景", "洪雅家园"]
    replies = await chat.say("guest-c", "洪雅")
    assert chat.keys(replies) == ["register.ask_building"] and "洪雅家园" in replies[0].text
    replies = await chat.say("guest-c", "2栋502")
    assert chat.keys(replies) == ["register.ask_relation"]
    await chat.say("guest-d", "/start")
    replies = await chat.press("guest-d", "时代帝景")
    assert chat.keys(replies) == ["register.ask_building"] and "时代帝景" in replies[0].text
    replies = await chat.say("guest-e", "/start")
    replies = await chat.say("guest-e", "不存在的小区")
    assert chat.keys(replies) == ["register.compound_not_found", "register.ask_compound"]
