"""Cases end to end, on every channel and database: report → route → handle → escalate
by the clock → resolve → rate; confidentiality; duplicates; redelivered presses."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.storage.models import Case, CaseEvent, CaseMember, CaseStatus
from handlers.case_records import case_record
from tests.chat import ChatDriver
from tests.factories import Clock


def _clock(chat: ChatDriver) -> Clock:
    clock = Clock()
    chat.app.dispatcher.clock = clock
    assert chat.app.scheduler is not None
    chat.app.scheduler.clock = clock
    return clock


async def _report_leak(chat: ChatDriver, user: str = "resident-1") -> str:
    replies = await chat.report(user, "楼上卫生间漏水到我家天花板了，墙皮都泡了")
    assert replies[-1].key == "report.ask_matter"
    assert replies[-1].button_texts()[0] == "楼上漏水、渗水"
    replies = await chat.press(user, "楼上漏水、渗水")
    assert replies[-1].key == "report.ask_other_party"
    replies = await chat.press(user, "楼上")
    assert replies[-1].key == "report.ask_photos"
    replies = await chat.press(user, "下一步")
    assert replies[-1].key == "report.summary" and "1栋1单元1602" in replies[-1].text
    replies = await chat.press(user, "提交")
    assert replies[-1].key == "report.created"
    number = replies[-1].text.split("编号 ")[1].split()[0]
    assert number.startswith("SDDJ-20") and len(number) == len("SDDJ-2026-000001")
    assert "法律依据：《民法典》" in replies[-1].text
    return number


async def _case(chat: ChatDriver, number: str) -> Case:
    async with chat.app.db.transaction() as session:
        case = await session.scalar(select(Case).where(Case.number == number))
        assert case is not None
        return case


async def test_leak_is_routed_escalated_by_the_clock_resolved_and_rated(chat: ChatDriver) -> None:
    clock = _clock(chat)
    number = await _report_leak(chat)
    case = await _case(chat, number)
    assert case.level == "floor" and case.status == CaseStatus.ASSIGNED

    cards = await chat.read("floor-1")
    assert cards[-1].key == "case.card_new" and number in cards[-1].text
    assert "张秀英" in cards[-1].text and "1栋1单元1502" in cards[-1].text
    replies = await chat.press("floor-1", "领办")
    assert replies[0].key == "handling.accepted"
    notices = await chat.read("resident-1")
    assert notices[-1].key == "case.notice_accepted"

    clock.advance(hours=49)  # floor SLA is 48 h for a leak
    assert chat.app.scheduler is not None
    assert await chat.app.scheduler.tick() >= 1
    case = await _case(chat, number)
    assert case.level == "building" and case.escalations == 1
    leader_cards = await chat.read("leader-b1")
    assert leader_cards[-1].key == "case.card_new" and number in leader_cards[-1].text
    floor_notes = await chat.read("floor-1")
    assert floor_notes[-1].key == "case.notice_escalated_from"
    assert (await chat.read("resident-1"))[-1].key == "case.notice_escalated"

    await chat.press("leader-b1", "办结")
    replies = await chat.say("leader-b1", "已协调楼上更换防水层，物业已修复天花板")
    assert replies[-1].key == "handling.resolved"
    rating = await chat.read("resident-1")
    assert rating[-1].key == "case.notice_resolved_rate"
    replies = await chat.press("resident-1", "满意")
    assert replies[-1].key == "handling.rated"
    await chat.press("resident-1", "跳过")
    case = await _case(chat, number)
    assert case.status == CaseStatus.CLOSED and case.satisfaction == "satisfied"

    async with chat.app.db.transaction() as session:
        record = await case_record(session, case, chat.app.catalog, history=True)
    kinds = [e["kind"] for e in record["events"]]
    assert kinds[:3] == ["reported", "assigned", "accepted"]
    assert {"escalated", "resolved", "rated", "closed"} <= set(kinds)


async def test_other_party_is_told_a_neighbour_raised_it_and_nothing_more(
    chat: ChatDriver,
) -> None:
    await _report_leak(chat)
    await chat.read("floor-1")
    await chat.press("floor-1", "领办")
    await chat.deliver()
    received = await chat.inbox("resident-2")
    assert [r.key for r in received] == ["case.notice_counterparty"]
    text = received[0].text
    assert "邻居" in text and "1602" in text
    for secret in ("张秀英", "1502", "墙皮", "天花板"):
        assert secret not in text


async def test_second_report_of_the_same_common_problem_offers_to_join(chat: ChatDriver) -> None:
    await chat.report("resident-1", "1单元的电梯又坏了，停在8楼不动")
    await chat.press("resident-1", "电梯故障")
    await chat.press("resident-1", "1栋")
    await chat.say("resident-1", "1单元电梯")
    await chat.press("resident-1", "下一步")
    created = await chat.press("resident-1", "提交")
    number = created[-1].text.split("编号 ")[1].split()[0]

    await chat.report("resident-2", "电梯坏了，停在8楼一直不动")
    await chat.press("resident-2", "电梯故障")
    await chat.press("resident-2", "1栋")
    await chat.say("resident-2", "1单元电梯")
    await chat.press("resident-2", "下一步")
    offer = await chat.press("resident-2", "提交")
    assert offer[-1].key == "report.duplicate_found" and number in offer[-1].text
    joined = await chat.press("resident-2", "附议（加入已有报事）")
    assert joined[-1].key == "report.followed"
    async with chat.app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 1
        followers = await session.scalar(
            select(func.count()).select_from(CaseMember).where(CaseMember.part == "follower")
        )
    assert followers == 1


async def test_not_satisfied_reopens_and_escalates(chat: ChatDriver) -> None:
    number = await _report_leak(chat)
    await chat.read("floor-1")
    await chat.press("floor-1", "领办")
    await chat.press("floor-1", "办结")
    await chat.say("floor-1", "已沟通")
    await chat.read("resident-1")
    replies = await chat.press("resident-1", "不满意")
    assert replies[-1].key == "handling.rated_reopened"
    await chat.say("resident-1", "根本没修，还在漏")
    case = await _case(chat, number)
    assert case.status == CaseStatus.REOPENED and case.reopens == 1
    assert case.level == "building" and case.comment == "根本没修，还在漏"


async def test_redelivered_resolve_press_resolves_once(chat: ChatDriver) -> None:
    number = await _report_leak(chat)
    await chat.read("floor-1")
    await chat.press("floor-1", "领办")
    todo = await chat.say("floor-1", "我的待办")
    assert number in todo[0].text
    await chat.press("floor-1", number)
    data = chat.button_data("floor-1", "办结")
    await chat.send("floor-1", button=data, update_id="res-1")
    first = await chat.say("floor-1", "已修好", update_id="note-1")
    again = await chat.say("floor-1", "已修好", update_id="note-1")  # the platform redelivers
    assert [r.text for r in again] == [r.text for r in first]
    second_press = await chat.send("floor-1", button=data, update_id="res-2")
    assert second_press[-1].key == "handling.not_now"
    async with chat.app.db.transaction() as session:
        resolved = await session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "resolved")
        )
    assert resolved == 1


async def test_concurrent_reports_get_distinct_numbers(chat: ChatDriver) -> None:
    async def report(user: str, text: str) -> str:
        await chat.report(user, text)
        await chat.press(user, "高空抛物坠物")
        await chat.press(user, "1栋")
        await chat.say(user, "楼下草坪")
        await chat.press(user, "下一步")
        replies = await chat.press(user, "提交")
        if replies[-1].key == "report.duplicate_found":
            replies = await chat.press(user, "仍要新建")
        return replies[-1].text.split("编号 ")[1].split()[0]

    numbers = await asyncio.gather(
        report("resident-1", "有人从楼上往下扔酒瓶子，差点砸到小孩"),
        report("resident-2", "楼上有人高空抛物，扔下来一袋垃圾"),
    )
    assert len(set(numbers)) == 2
