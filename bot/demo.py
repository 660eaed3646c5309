"""The demo compound 时代帝景 (SDDJ) and its people, seeded into an empty database.

The same data serves the demo, the scenario tests and the benchmarks, so its shape is
fixed by DESIGN.md §5: resident-2 lives directly above resident-1, floor-1 answers
for floors 13–18 of building 1, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.admin.auth import DashboardAuth
from bot.storage.models import (
    ChannelIdentity,
    Compound,
    Invite,
    Relation,
    ResponsibilityZone,
    Role,
    RoleGrant,
    User,
)
from handlers import directory
from handlers.structure import Shape, create_compound

CODE = "SDDJ"
NAME = "时代帝景"
DISTRICT = "四川省眉山市洪雅县洪川镇"
BUILDINGS = 6
UNITS = 2
FLOORS = 18
ROOMS_PER_FLOOR = (2, 3, 4, 2, 3, 4)  # per building, 2–4 flats a floor
ZONES = ((1, 6), (7, 12), (13, 18))
COMPOUND_INVITE = "SDDJ-JOIN"


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    role: Role | None = None
    building: int | None = None  # scope of the role
    home: tuple[int, int, str] | None = None  # building, unit, room
    zone: tuple[int, int] | None = None  # floors of `building` (floor_member)


PERSONAS: tuple[Persona, ...] = (
    Persona("resident-1", "张秀英", home=(1, 1, "1502")),
    Persona("resident-2", "李建华", home=(1, 1, "1602")),
    Persona("floor-1", "王志强", Role.FLOOR_MEMBER, 1, home=(1, 2, "1801"), zone=(13, 18)),
    Persona("leader-b1", "陈国平", Role.BUILDING_LEADER, 1, home=(1, 1, "902")),
    Persona("secretary", "刘红梅", Role.SECRETARY, home=(2, 1, "601")),
    Persona("committee-1", "赵明", Role.COMMITTEE, home=(3, 2, "1203")),
    Persona("property-1", "孙伟", Role.PROPERTY),
    Persona("mediator-1", "周德明", Role.MEDIATOR, home=(4, 1, "301")),
    Persona("grid-1", "吴静", Role.GRID_WORKER),
    Persona("police-1", "郑勇", Role.POLICE),
    Persona("lawyer-1", "何文", Role.VOLUNTEER),
    Persona("admin", "县司法局管理员", Role.ADMIN),
)

# The other party members and building leaders, so every floor and building has
# somebody answering for it (they are reachable through the web chat by these ids).
_MEMBER_NAMES = (
    "杨丽 黄强 林芳 徐磊 马丹 高峰 罗敏 梁勇 宋洁 谢军 韩梅 唐亮 冯雪 于涛 董燕 萧平 程静"
).split()
_LEADER_NAMES = "曹建 彭芳 蒋华 蔡明 贾玲".split()


def _staff() -> list[Persona]:
    staff: list[Persona] = []
    names = iter(_MEMBER_NAMES)
    for building in range(1, BUILDINGS + 1):
        for floor_from, floor_to in ZONES:
            if building == 1 and floor_from == 13:
                continue  # floor-1
            staff.append(
                Persona(
                    f"floor-b{building}-{floor_from}",
                    next(names),
                    Role.FLOOR_MEMBER,
                    building,
                    zone=(floor_from, floor_to),
                )
            )
    for building, name in zip(range(2, BUILDINGS + 1), _LEADER_NAMES, strict=True):
        staff.append(Persona(f"leader-b{building}", name, Role.BUILDING_LEADER, building))
    return staff


async def is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count()).select_from(Compound))


async def seed_demo(session: AsyncSession) -> Compound:
    """Create the demo compound and people. The caller checks ``is_empty`` first."""
    shape = Shape(BUILDINGS, UNITS, FLOORS, ROOMS_PER_FLOOR)
    compound, rooms = await create_compound(session, CODE, NAME, shape, DISTRICT)
    buildings = {b.number: b for b in await directory.buildings(session, compound.id)}
    for persona in (*PERSONAS, *_staff()):
        user = User(name=persona.name)
        if persona.home is not None:
            user.room_id = rooms[persona.home].id
            user.relation = Relation.OWNER.value
        session.add(user)
        await session.flush()
        session.add(
            ChannelIdentity(
                channel="web",
                external_id=persona.id,
                chat_id=persona.id,
                user_id=user.id,
                display_name=persona.name,
            )
        )
        if persona.role is not None:
            building = buildings[persona.building] if persona.building else None
            session.add(
                RoleGrant(
                    user_id=user.id,
                    role=persona.role.value,
                    compound_id=None if persona.role is Role.ADMIN else compound.id,
                    building_id=building.id if building else None,
                    source="seed",
                )
            )
        if persona.zone is not None and persona.building is not None:
            session.add(
                ResponsibilityZone(
                    building_id=buildings[persona.building].id,
                    floor_from=persona.zone[0],
                    floor_to=persona.zone[1],
                    member_id=user.id,
                )
            )
    session.add(
        Invite(
            code=COMPOUND_INVITE,
            compound_id=compound.id,
            max_uses=100_000,
            note="demo: anyone may join 时代帝景 with this link",
        )
    )
    await session.flush()
    return compound


DEMO_LOGINS = ("admin", "secretary")  # persona ids that get a dashboard login
DEMO_PASSWORD = "linli-demo"


async def seed_dashboard_logins(auth: DashboardAuth) -> list[str]:
    """Dashboard accounts for the demo's admin and secretary (password DEMO_PASSWORD):
    the dashboard never trusts the demo's persona switch, so the demo needs real logins."""
    async with auth.db.transaction() as session:
        rows = await session.execute(
            select(ChannelIdentity.external_id, ChannelIdentity.user_id).where(
                ChannelIdentity.channel == "web", ChannelIdentity.external_id.in_(DEMO_LOGINS)
            )
        )
        found = dict(rows.tuples().all())
    for username in DEMO_LOGINS:
        if username in found:
            await auth.create_account(username, DEMO_PASSWORD, found[username])
    return [u for u in DEMO_LOGINS if u in found]
