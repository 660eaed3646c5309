"""The rest of a case's life, on every channel and database: emergencies, photos, long
stories, handler actions, resident information, reminders, auto-close, vacancies."""

from __future__ import annotations

from sqlalchemy import delete, select

from bot.storage.models import (
    Case,
    CaseEvent,
    CasePhoto,
    CaseStatus,
    ChannelIdentity,
    ResponsibilityZone,
)
from tests.chat import ChatDriver
from tests.factories import Clock, png_bytes
from tests.scenarios.test_cases import _case, _clock, _report_leak

STORY = (
    "尊敬的社区领导：您好！我是1栋1单元1502的住户。从上个月开始，我家卫生间和厨房的天花板"
    "就一直往下滴水，墙面已经发霉起皮，孩子晚上睡觉都能闻到霉味。我上楼找过1602好几次，"
    "对方一直说没时间看，物业来看过一次也说要楼上配合才能修。现在已经快两个月了，问题越来越"
    "严重，恳请领导帮忙协调解决，谢谢！"
)


async def test_emergency_advice_comes_before_any_question(chat: ChatDriver) -> None:
    replies = await chat.say("resident-1", "楼道里着火了！好大的烟")
    assert replies[0].key == "emergency.alert" and "119" in replies[0].text
    guest = await chat.say("guest-fire", "着火了 快来人")
    assert guest[0].key == "emergency.alert"


async def test_long_story_written_to_officials_starts_a_report(chat: ChatDriver) -> None:
    replies = await chat.report("resident-1", STORY)
    assert replies[-1].key == "report.ask_matter"
    assert replies[-1].button_texts()[0] == "楼上漏水、渗水"


async def test_photo_alone_starts_a_report_and_is_kept_on_the_case(chat: ChatDriver) -> None:
    replies = await chat.send_photo("resident-1", png_bytes())
    assert replies[-1].key == "report.photo_then_describe"
    await chat.say("resident-1", "单元门的门禁坏了关不上")
    labels = chat.last["resident-1"][-1].button_texts()
    await chat.press("resident-1", labels[0])
    if chat.last["resident-1"][-1].key == "report.ask_building":
        await chat.press("resident-1", "1栋")
        await chat.press("resident-1", "跳过")
    await chat.send_photo("resident-1", png_bytes((10, 200, 10)))
    await chat.press("resident-1", "下一步")
    created = await chat.press("resident-1", "提交")
    assert created[-1].key == "report.created"
    async with chat.app.db.transaction() as session:
        photos = (await session.scalars(select(CasePhoto.file_ref))).all()
    assert len(photos) == 2 and all(chat.app.files.path(p).exists() for p in photos)


async def test_handler_progress_co_request_escalation_and_reassignment(chat: ChatDriver) -> None:
    number = await _report_leak(chat)
    await chat.read("floor-1")
    await chat.press("floor-1", "领办")
    await chat.read("floor-1")
    await chat.press("floor-1", "进展")
    await chat.say("floor-1", "已约好明天上午去1602查看")
    notice = await chat.read("resident-1")
    assert notice[-1].key == "case.notice_progress" and "明天上午" in notice[-1].text

    await chat.read("floor-1")
    roles = await chat.press("floor-1", "请求协办")
    assert roles[-1].key == "handling.ask_co_role"
    added = await chat.press("floor-1", "调解委员会委员")
    assert added[-1].key == "handling.co_added"
    assert (await chat.read("mediator-1"))[-1].key == "case.card_co"

    await chat.read("floor-1")
    await chat.press("floor-1", "上报")
    up = await chat.say("floor-1", "楼上住户拒绝配合")
    assert up[-1].key == "handling.escalated"
    case = await _case(chat, number)
    assert case.level == "building"

    todo = await chat.say("secretary", "我的待办")
    assert todo[0].key == "view.todo_empty"
    await chat.say("secretary", "/start")
    async with chat.app.db.transaction() as session:
        case = await session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    from bot.core.buttons import pack

    view = chat.app.dispatcher.signer.sign(pack("cs", "view", case.id), chat.audience("secretary"))
    detail = await chat.send("secretary", button=view)
    chat.last["secretary"] = detail
    options = await chat.press("secretary", "交办")
    assert options[-1].key == "handling.ask_reassign"
    target = next(t for t in options[-1].button_texts() if t.startswith("物业工作人员"))
    done = await chat.press("secretary", target)
    assert done[-1].key == "handling.reassigned"
    assert (await chat.read("property-1"))[-1].key == "case.card_new"
    assert (await chat.read("leader-b1"))[-1].key == "case.notice_reassigned_away"


async def test_resident_adds_information_to_an_open_case(chat: ChatDriver) -> None:
    await _report_leak(chat)
    mine = await chat.say("resident-1", "我的报事")
    assert mine[0].key == "view.list"
    await chat.press("resident-1", mine[0].button_texts()[0])
    await chat.press("resident-1", "补充信息")
    saved = await chat.say("resident-1", "今天漏得更厉害了，灯座里也在滴水")
    assert saved[-1].key == "handling.info_saved"
    card = await chat.read("floor-1")
    assert card[-1].key == "case.card_info" and "灯座" in card[-1].text


async def test_lead_is_reminded_before_the_deadline(chat: ChatDriver) -> None:
    clock = _clock(chat)
    await _report_leak(chat)
    clock.advance(hours=37)  # 11 h left of 48: inside the last quarter
    assert chat.app.scheduler is not None
    await chat.app.scheduler.tick()
    assert (await chat.read("floor-1"))[-1].key == "case.card_reminder"
    await chat.app.scheduler.tick()
    reminders = [r for r in await chat.read("floor-1") if r.key == "case.card_reminder"]
    assert len(reminders) == 1


async def test_resolved_case_without_rating_closes_after_three_days(chat: ChatDriver) -> None:
    clock = _clock(chat)
    number = await _report_leak(chat)
    await chat.read("floor-1")
    await chat.press("floor-1", "办结")
    await chat.say("floor-1", "已修复")
    clock.advance(days=3, minutes=1)
    assert chat.app.scheduler is not None
    await chat.app.scheduler.tick()
    case = await _case(chat, number)
    assert case.status == CaseStatus.CLOSED and case.satisfaction is None
    assert (await chat.read("resident-1"))[-1].key == "case.notice_closed"


async def test_dispute_between_the_same_two_flats_joins_the_open_case(chat: ChatDriver) -> None:
    number = await _report_leak(chat)
    await chat.report("resident-2", "楼下1502老是说我家漏水，还天天用棍子捅天花板，吵得很")
    await chat.press("resident-2", chat.last["resident-2"][-1].button_texts()[0])
    if chat.last["resident-2"][-1].key == "report.ask_place":
        await chat.press("resident-2", "是，在我家")
    if chat.last["resident-2"][-1].key == "report.ask_other_party":
        await chat.press("resident-2", "楼下")
    await chat.press("resident-2", "下一步")
    joined = await chat.press("resident-2", "提交")
    assert joined[-1].key == "report.joined_dispute" and number in joined[-1].text


async def test_vacant_floor_post_routes_to_the_building_leader_and_says_why(
    chat: ChatDriver,
) -> None:
    async with chat.app.db.transaction() as session:
        member = await session.scalar(
            select(ChannelIdentity.user_id).where(
                ChannelIdentity.external_id == chat.platform_id("floor-1")
            )
        )
        await session.execute(
            delete(ResponsibilityZone).where(ResponsibilityZone.member_id == member)
        )
    number = await _report_leak(chat)
    case = await _case(chat, number)
    assert case.level == "building"
    async with chat.app.db.transaction() as session:
        assigned = await session.scalar(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "assigned")
        )
    assert assigned is not None and assigned.data["vacancies"] == ["floor:floor_member"]
    assert (await chat.read("leader-b1"))[-1].key == "case.card_new"
    unused = Clock()
    assert unused


async def test_menu_path_reaches_every_matter_by_kind(chat: ChatDriver) -> None:
    await chat.say("resident-1", "菜单")
    asked = await chat.press("resident-1", "我要报事")
    assert asked[-1].key == "report.ask_describe"
    await chat.say("resident-1", "有个事情想反映一下")
    await chat.press("resident-1", "都不是，看全部类型")
    kinds = await chat.press("resident-1", "报修")
    assert kinds[-1].key == "report.ask_matter_of_kind"
    assert "电梯故障" in kinds[-1].button_texts()
    chosen = await chat.press("resident-1", "电梯故障")
    assert chosen[-1].key == "report.ask_building"
