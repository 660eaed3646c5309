"""Queries about the compound's structure and who answers for what.

Handlers and the CLI ask these questions in domain words ("which room is 1栋2单元1502
of SDDJ", "what is this user's address") instead of writing joins each time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    Building,
    Compound,
    Floor,
    Invite,
    ResponsibilityZone,
    RoleGrant,
    Room,
    Unit,
    User,
)


@dataclass(frozen=True)
class Address:
    compound_id: int
    compound: str
    building_id: int
    building: int
    unit_id: int
    unit: int
    floor: int
    room_id: int
    room: str


def _address_query():  # type: ignore[no-untyped-def]
    return (
        select(
            Compound.id,
            Compound.name,
            Building.id,
            Building.number,
            Unit.id,
            Unit.number,
            Floor.number,
            Room.id,
            Room.number,
        )
        .join(Floor, Floor.id == Room.floor_id)
        .join(Unit, Unit.id == Floor.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Compound, Compound.id == Building.compound_id)
    )


async def room_address(session: AsyncSession, room_id: int) -> Address | None:
    row = (await session.execute(_address_query().where(Room.id == room_id))).first()
    return Address(*row) if row else None


async def find_room(session: AsyncSession, unit_id: int, room_number: str) -> Address | None:
    row = (
        await session.execute(
            _address_query().where(Unit.id == unit_id, Room.number == room_number)
        )
    ).first()
    return Address(*row) if row else None


async def compounds(session: AsyncSession) -> list[Compound]:
    return list((await session.scalars(select(Compound).order_by(Compound.id))).all())


async def buildings(session: AsyncSession, compound_id: int) -> list[Building]:
    return list(
        (
            await session.scalars(
                select(Building)
                .where(Building.compound_id == compound_id)
                .order_by(Building.number)
            )
        ).all()
    )


async def units(session: AsyncSession, building_id: int) -> list[Unit]:
    return list(
        (
            await session.scalars(
                select(Unit).where(Unit.building_id == building_id).order_by(Unit.number)
            )
        ).all()
    )


async def room_range(session: AsyncSession, unit_id: int) -> tuple[str, str] | None:
    """First and last room number of a unit, to tell a resident what is valid."""
    numbers = list(
        (
            await session.scalars(
                select(Room.number)
                .join(Floor, Floor.id == Room.floor_id)
                .where(Floor.unit_id == unit_id)
                .order_by(Floor.number, Room.number)
            )
        ).all()
    )
    return (numbers[0], numbers[-1]) if numbers else None


async def zones_of(session: AsyncSession, user_id: int) -> list[tuple[int, ResponsibilityZone]]:
    """(building number, zone) for each responsibility zone the user holds."""
    rows = await session.execute(
        select(Building.number, ResponsibilityZone)
        .join(Building, Building.id == ResponsibilityZone.building_id)
        .where(ResponsibilityZone.member_id == user_id)
        .order_by(Building.number, ResponsibilityZone.floor_from)
    )
    return [(number, zone) for number, zone in rows.tuples()]


async def grant_scopes(
    session: AsyncSession, grants: list[RoleGrant]
) -> list[tuple[RoleGrant, str | None, int | None]]:
    """Each grant with its compound name and building number (None when unscoped)."""
    out: list[tuple[RoleGrant, str | None, int | None]] = []
    for grant in grants:
        compound = await session.get(Compound, grant.compound_id) if grant.compound_id else None
        building = await session.get(Building, grant.building_id) if grant.building_id else None
        out.append(
            (grant, compound.name if compound else None, building.number if building else None)
        )
    return out


@dataclass(frozen=True)
class Coverage:
    name: str
    rooms: int
    rooms_covered: int
    residents: int


async def building_coverage(session: AsyncSession, building_ids: list[int]) -> list[Coverage]:
    """Registered residents and covered rooms per building (onboarding progress)."""
    rooms_of_building = (
        select(Building.id)
        .join(Unit, Unit.building_id == Building.id)
        .join(Floor, Floor.unit_id == Unit.id)
        .join(Room, Room.floor_id == Floor.id)
        .where(Building.id.in_(building_ids))
        .group_by(Building.id)
    )
    rooms = {
        bid: count
        for bid, count in (
            await session.execute(rooms_of_building.add_columns(func.count(Room.id)))
        ).all()
    }
    registered = {
        bid: (covered, residents)
        for bid, covered, residents in (
            await session.execute(
                rooms_of_building.join(User, User.room_id == Room.id).add_columns(
                    func.count(func.distinct(User.room_id)), func.count(User.id)
                )
            )
        ).all()
    }
    names = {
        bid: name
        for bid, name in (
            await session.execute(
                select(Building.id, Building.name).where(Building.id.in_(building_ids))
            )
        ).all()
    }
    return [
        Coverage(
            name=names[bid],
            rooms=rooms.get(bid, 0),
            rooms_covered=registered.get(bid, (0, 0))[0],
            residents=registered.get(bid, (0, 0))[1],
        )
        for bid in building_ids
    ]


async def usable_invite(session: AsyncSession, code: str, now: datetime) -> Invite | None:
    invite = await session.scalar(select(Invite).where(Invite.code == code))
    if invite is None or invite.uses >= invite.max_uses:
        return None
    if invite.expires_at is not None and invite.expires_at <= now:
        return None
    return invite
