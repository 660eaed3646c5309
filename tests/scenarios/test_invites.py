"""Invite codes: joining a compound, a flat, or taking up a role — on every channel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.storage.models import Building, Compound, Invite, ResponsibilityZone, Role, utcnow
from handlers.directory import find_room, units
from tests.chat import ChatDriver


async def _invite(chat: ChatDriver, code: str, **fields: object) -> None:
    async with chat.app.db.transaction() as session:
        compound = await session.scalar(select(Compound).where(Compound.code == "SDDJ"))
        assert compound is not None
        session.add(Invite(code=code, compound_id=compound.id, **fields))


async def _building(chat: ChatDriver, number: int) -> Building:
    async with chat.app.db.transaction() as session:
        building = await session.scalar(select(Building).where(Building.number == number))
        assert building is not None
        return building


async def test_role_invite_makes_a_new_user_building_leader(chat: ChatDriver) -> None:
    building = await _building(chat, 3)
    await _invite(chat, "LEAD3", role=Role.BUILDING_LEADER.value, building_id=building.id)
    replies = await chat.say("newleader", "/start LEAD3")
    assert "已为您开通职责" in replies[0].text and "楼栋长（时代帝景3栋）" in replies[0].text
    assert "登记情况" in replies[0].button_texts()
    coverage = await chat.say("newleader", "登记情况")
    assert "3栋" in coverage[0].text and "1栋" not in coverage[0].text


async def test_role_invite_is_single_use(chat: ChatDriver) -> None:
    await _invite(chat, "SEC1", role=Role.SECRETARY.value)
    await chat.say("first", "/start SEC1")
    replies = await chat.say("second", "/start SEC1")
    assert replies[0].key == "start.invite_invalid"
    denied = await chat.say("second", "/coverage")
    assert denied[0].key == "errors.need_registration"


async def test_floor_member_invite_creates_the_responsibility_zone(chat: ChatDriver) -> None:
    building = await _building(chat, 2)
    await _invite(
        chat,
        "ZONE2",
        role=Role.FLOOR_MEMBER.value,
        building_id=building.id,
        floor_from=7,
        floor_to=12,
    )
    replies = await chat.say("member", "/start ZONE2")
    assert "2栋 7–12 层" in replies[0].text
    async with chat.app.db.transaction() as session:
        zones = (
            await session.scalars(
                select(ResponsibilityZone).where(ResponsibilityZone.building_id == building.id)
            )
        ).all()
    assert sorted((z.floor_from, z.floor_to) for z in zones) == [(1, 6), (7, 12), (7, 12), (13, 18)]


async def test_room_invite_goes_straight_to_the_relation_question(chat: ChatDriver) -> None:
    building = await _building(chat, 4)
    async with chat.app.db.transaction() as session:
        unit = (await units(session, building.id))[1]
        room = await find_room(session, unit.id, "1102")
        assert room is not None
    await _invite(chat, "ROOM4", room_id=room.room_id)
    replies = await chat.say("tenant", "/start ROOM4")
    assert replies[-1].key == "register.ask_relation"
    await chat.press("tenant", "租户")
    done = await chat.press("tenant", "确认")
    assert "4栋2单元1102" in done[-1].text
    again = await chat.say("other", "/start ROOM4")
    assert again[0].key == "start.invite_invalid"


async def test_expired_invite_is_refused_and_registration_offered(chat: ChatDriver) -> None:
    await _invite(chat, "OLD", max_uses=10, expires_at=utcnow() - timedelta(days=1))
    replies = await chat.say("late", "/start OLD")
    assert [r.key for r in replies] == ["start.invite_invalid", "register.ask_building"]


async def test_typed_role_name_grants_nothing(chat: ChatDriver) -> None:
    await chat.say("guest-x", "1栋1单元101")
    await chat.say("guest-x", "我是楼栋长")
    replies = await chat.say("guest-x", "楼栋长")
    assert replies[-1].key != "coverage.view"
    assert (await chat.say("guest-x", "/coverage"))[0].key == "errors.need_registration"
