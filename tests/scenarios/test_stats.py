"""本月统计 in the chat, on every channel and database: a secretary gets this month's
summary with a chart; a building leader gets their building's, an administrator every
compound's; a resident is denied."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import OutboxMessage
from tests.chat import ChatDriver


async def _report_leak(chat: ChatDriver) -> None:
    replies = await chat.report("resident-1", "楼上卫生间漏水到我家天花板了，墙皮都泡了")
    assert replies[-1].key == "report.ask_matter"
    await chat.press("resident-1", "楼上漏水、渗水")
    await chat.press("resident-1", "楼上")
    await chat.press("resident-1", "下一步")
    replies = await chat.press("resident-1", "提交")
    assert replies[-1].key == "report.created"


async def _summary_photos(chat: ChatDriver) -> list[str]:
    async with chat.app.db.transaction() as session:
        payloads = (await session.scalars(select(OutboxMessage.payload))).all()
    return [p["photo"] for p in payloads if p.get("key") == "stats.summary" and p.get("photo")]


async def test_secretary_asks_for_this_month_and_gets_a_summary_and_a_chart(
    chat: ChatDriver,
) -> None:
    await _report_leak(chat)
    replies = await chat.say("secretary", "本月统计")
    assert replies[-1].key == "stats.summary"
    text = replies[-1].text
    assert "时代帝景" in text and "报事 1 件" in text and "楼上漏水、渗水 1 件" in text
    assert "按时办结率 —" in text  # nothing resolved yet
    photos = await _summary_photos(chat)
    assert len(photos) == 1
    assert chat.app.files.path(photos[0]).read_bytes().startswith(b"\x89PNG")


async def test_building_leader_gets_their_building_admin_everything_resident_nothing(
    chat: ChatDriver,
) -> None:
    await _report_leak(chat)
    replies = await chat.say("leader-b1", "/stats")
    assert replies[-1].key == "stats.summary"
    assert "时代帝景1栋" in replies[-1].text and "报事 1 件" in replies[-1].text
    replies = await chat.say("admin", "本月统计")
    assert replies[-1].key == "stats.summary" and "全部小区" in replies[-1].text
    replies = await chat.say("resident-1", "本月统计")
    assert replies[-1].key == "errors.denied"
    assert await _summary_photos(chat) != []
