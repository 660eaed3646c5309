"""Broadcast targets: specs, who may use them, and who they reach in the demo compound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.viewer import load_viewer
from bot.demo import seed_demo
from bot.storage.db import Database
from bot.storage.models import ChannelIdentity, Compound, Role, RoleGrant, User, utcnow
from handlers.broadcast_targets import (
    Target,
    TargetError,
    check_targets,
    parse_targets,
    resolve_recipients,
    sender_compound,
)
from handlers.structure import Shape, create_compound

BUILDING_1 = {"resident-1", "resident-2", "floor-1", "leader-b1"}
LEADERS = {f"leader-b{n}" for n in range(1, 7)}
OTHER = "HYJY"  # a second compound: 1 building, a resident and a building leader


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """The demo compound SDDJ plus a small second compound, in one open transaction."""
    async with db.transaction() as session:
        await seed_demo(session)
        other, rooms = await create_compound(session, OTHER, "洪雅家园", Shape(1, 1, 2, [2]))
        room = next(iter(rooms.values()))
        resident = User(name="外小区住户", room_id=room.id)
        leader = User(name="外小区楼栋长")
        session.add_all([resident, leader])
        await session.flush()
        session.add_all(
            [
                ChannelIdentity(
                    channel="web",
                    external_id="hyjy-resident",
                    chat_id="hyjy-resident",
                    user_id=resident.id,
                ),
                ChannelIdentity(
                    channel="web",
                    external_id="hyjy-leader",
                    chat_id="hyjy-leader",
                    user_id=leader.id,
                ),
                RoleGrant(user_id=leader.id, role=Role.BUILDING_LEADER.value, compound_id=other.id),
            ]
        )
        await session.flush()
        yield session


async def _compound_id(session: AsyncSession, code: str) -> int:
    found = await session.scalar(select(Compound.id).where(Compound.code == code))
    assert found is not None
    return found


async def _user(session: AsyncSession, external_id: str) -> User:
    user = await session.scalar(
        select(User)
        .join(ChannelIdentity, ChannelIdentity.user_id == User.id)
        .where(ChannelIdentity.external_id == external_id)
    )
    assert user is not None
    return user


async def _identity(session: AsyncSession, external_id: str) -> ChannelIdentity:
    identity = await session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.external_id == external_id)
    )
    assert identity is not None
    return identity


async def _reached(
    session: AsyncSession, specs: str | list[str], compound_id: int | None = None
) -> set[str]:
    recipients = await resolve_recipients(session, parse_targets(specs), compound_id)
    return {r.external_id for r in recipients}


async def _demo_people(session: AsyncSession) -> set[str]:
    return set(
        (
            await session.scalars(
                select(ChannelIdentity.external_id).where(
                    ChannelIdentity.external_id.not_like("hyjy-%")
                )
            )
        ).all()
    )


# -- parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("compound:SDDJ", [Target("compound", compound="SDDJ")]),
        ("compound:sddj", [Target("compound", compound="SDDJ")]),
        (
            "building:SDDJ-1,SDDJ-2",
            [
                Target("building", compound="SDDJ", building=1),
                Target("building", compound="SDDJ", building=2),
            ],
        ),
        (" building: SDDJ-12 ", [Target("building", compound="SDDJ", building=12)]),
        ("role:building_leader", [Target("role", role="building_leader")]),
        ("role:secretary@SDDJ", [Target("role", compound="SDDJ", role="secretary")]),
        ("all", [Target("all")]),
    ],
)
def test_parse_targets_accepts_each_kind_of_spec(spec: str, expected: list[Target]) -> None:
    assert parse_targets(spec) == expected


def test_parsed_specs_round_trip() -> None:
    specs = ["compound:SDDJ", "building:SDDJ-1", "role:building_leader", "role:secretary@SDDJ"]
    targets = parse_targets(specs + ["all"])
    assert [t.spec for t in targets] == [*specs, "all"]
    assert parse_targets([t.spec for t in targets]) == targets


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "everyone",
        "compound",
        "compound:",
        "compound: , ",
        "building:SDDJ",
        "building:SDDJ-",
        "building:SDDJ-x",
        "building:-1",
        "building:1",
        "role:",
        "role:janitor",
        "role:Secretary",
        "all:SDDJ",
        "street:SDDJ",
    ],
)
def test_parse_targets_rejects_junk(spec: str) -> None:
    with pytest.raises(TargetError):
        parse_targets(spec)


def test_parse_targets_rejects_an_empty_list() -> None:
    with pytest.raises(TargetError):
        parse_targets([])


# -- who a target reaches ------------------------------------------------------------


async def test_building_reaches_exactly_the_people_living_in_it(session: AsyncSession) -> None:
    resident = await _user(session, "resident-1")
    session.add(User(name="没绑定账号的住户", room_id=resident.room_id))  # no channel identity
    await session.flush()
    recipients = await resolve_recipients(session, parse_targets("building:SDDJ-1"), None)
    assert {r.external_id for r in recipients} == BUILDING_1
    assert all(r.channel == "web" and r.chat_id == r.external_id for r in recipients)
    assert await _reached(session, "building:SDDJ-2") == {"secretary"}


async def test_two_buildings_reach_both(session: AsyncSession) -> None:
    assert await _reached(session, "building:SDDJ-1,SDDJ-2") == BUILDING_1 | {"secretary"}


async def test_compound_reaches_its_residents_and_its_staff_but_not_county_admins(
    session: AsyncSession,
) -> None:
    reached = await _reached(session, "compound:SDDJ")
    everyone = await _demo_people(session)
    assert reached == everyone - {"admin"}
    assert {"property-1", "police-1", "grid-1", "lawyer-1"} <= reached  # staff, no home
    assert await _reached(session, f"compound:{OTHER}") == {"hyjy-resident", "hyjy-leader"}


async def test_all_reaches_every_resident_and_staff_member(session: AsyncSession) -> None:
    reached = await _reached(session, "all")
    assert reached == await _demo_people(session) | {"hyjy-resident", "hyjy-leader"}


async def test_role_reaches_only_its_holders(session: AsyncSession) -> None:
    sddj = await _compound_id(session, "SDDJ")
    assert await _reached(session, "role:building_leader", sddj) == LEADERS
    assert await _reached(session, "role:building_leader") == LEADERS | {"hyjy-leader"}
    assert await _reached(session, f"role:building_leader@{OTHER}") == {"hyjy-leader"}
    assert await _reached(session, "role:secretary@SDDJ") == {"secretary"}
    assert await _reached(session, "role:mediator", sddj) == {"mediator-1"}
    assert await _reached(session, "role:police@HYJY") == set()


async def test_unsubscribed_people_are_left_out(session: AsyncSession) -> None:
    (await _user(session, "resident-2")).notices_off_at = utcnow()
    await session.flush()
    assert await _reached(session, "building:SDDJ-1") == BUILDING_1 - {"resident-2"}
    assert "resident-2" not in await _reached(session, "all")


async def test_unreachable_identities_are_left_out(session: AsyncSession) -> None:
    (await _identity(session, "resident-1")).unreachable_at = utcnow()
    await session.flush()
    assert await _reached(session, "building:SDDJ-1") == BUILDING_1 - {"resident-1"}


async def test_each_user_is_reached_once_on_the_channel_seen_last(session: AsyncSession) -> None:
    web = await _identity(session, "resident-1")
    web.last_seen_at = utcnow() - timedelta(days=1)
    session.add(
        ChannelIdentity(
            channel="telegram",
            external_id="700001",
            chat_id="700001",
            user_id=web.user_id,
            last_seen_at=web.last_seen_at + timedelta(hours=1),
        )
    )
    await session.flush()
    recipients = await resolve_recipients(
        session, parse_targets(["building:SDDJ-1", "compound:SDDJ", "role:floor_member@SDDJ"]), None
    )
    user_ids = [r.user_id for r in recipients]
    assert len(user_ids) == len(set(user_ids))
    mine = [r for r in recipients if r.user_id == web.user_id]
    assert [(r.channel, r.chat_id, r.external_id) for r in mine] == [
        ("telegram", "700001", "700001")
    ]


async def test_a_user_blocked_on_the_latest_channel_is_reached_on_an_older_one(
    session: AsyncSession,
) -> None:
    web = await _identity(session, "resident-1")
    web.last_seen_at = utcnow() - timedelta(days=1)
    session.add(
        ChannelIdentity(
            channel="telegram",
            external_id="700001",
            chat_id="700001",
            user_id=web.user_id,
            last_seen_at=utcnow(),
            unreachable_at=utcnow(),
        )
    )
    await session.flush()
    recipients = await resolve_recipients(session, parse_targets("building:SDDJ-1"), None)
    assert [r.channel for r in recipients if r.user_id == web.user_id] == ["web"]


# -- who may target what ---------------------------------------------------------------


async def test_sender_compound_binds_secretaries_and_frees_admins(session: AsyncSession) -> None:
    sddj = await _compound_id(session, "SDDJ")
    assert sender_compound(await load_viewer(session, "web", "secretary")) == sddj
    assert sender_compound(await load_viewer(session, "web", "admin")) is None
    for someone in ("resident-1", "leader-b1"):
        with pytest.raises(TargetError):
            sender_compound(await load_viewer(session, "web", someone))


@pytest.mark.parametrize(
    "spec",
    [
        "compound:SDDJ",
        "building:SDDJ-1",
        "building:SDDJ-1,SDDJ-6",
        "role:building_leader",
        "role:secretary@SDDJ",
    ],
)
async def test_secretary_may_target_their_own_compound(session: AsyncSession, spec: str) -> None:
    await check_targets(session, parse_targets(spec), await _compound_id(session, "SDDJ"))


@pytest.mark.parametrize(
    "spec",
    ["all", f"compound:{OTHER}", f"building:{OTHER}-1", f"role:building_leader@{OTHER}"],
)
async def test_secretary_may_not_target_another_compound_or_all(
    session: AsyncSession, spec: str
) -> None:
    with pytest.raises(TargetError):
        await check_targets(session, parse_targets(spec), await _compound_id(session, "SDDJ"))
    await check_targets(session, parse_targets(spec), None)  # a county admin may


@pytest.mark.parametrize(
    "spec",
    ["compound:NOPE", "building:SDDJ-7", "building:SDDJ-0", "building:NOPE-1", "role:police@NOPE"],
)
async def test_unknown_compound_or_building_is_refused(session: AsyncSession, spec: str) -> None:
    for compound_id in (None, await _compound_id(session, "SDDJ")):
        with pytest.raises(TargetError):
            await check_targets(session, parse_targets(spec), compound_id)


async def test_one_bad_target_refuses_the_whole_list(session: AsyncSession) -> None:
    with pytest.raises(TargetError):
        await check_targets(session, parse_targets(["building:SDDJ-1", "building:SDDJ-9"]), None)
