"""Creating a compound's physical structure from its shape.

Most compounds are regular — N buildings, each with units of the same height and the
same flats per floor — so an operator can create one from a few numbers
(``linli compound create``) before the full roster import. Room numbers follow the
usual convention: floor then a two-digit index (1502 = floor 15, flat 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Building, Compound, Floor, Room, Unit


@dataclass(frozen=True)
class Shape:
    buildings: int
    units: int
    floors: int
    rooms_per_floor: Sequence[int]  # one value per building, or one value for all

    def rooms_in(self, building: int) -> int:
        if len(self.rooms_per_floor) == 1:
            return self.rooms_per_floor[0]
        return self.rooms_per_floor[building - 1]

    def __post_init__(self) -> None:
        if min(self.buildings, self.units, self.floors) < 1:
            raise ValueError("a compound needs at least one building, unit and floor")
        if len(self.rooms_per_floor) not in (1, self.buildings):
            raise ValueError("give flats per floor once, or once per building")
        if not all(1 <= n <= 99 for n in self.rooms_per_floor):
            raise ValueError("flats per floor must be between 1 and 99")


async def create_compound(
    session: AsyncSession, code: str, name: str, shape: Shape, district: str = ""
) -> tuple[Compound, dict[tuple[int, int, str], Room]]:
    """Insert the compound and its structure; returns rooms keyed (building, unit, number).

    One flush per level keeps this fast on PostgreSQL (batched INSERT … RETURNING).
    """
    compound = Compound(code=code, name=name, district=district)
    session.add(compound)
    await session.flush()
    buildings = {
        b: Building(compound_id=compound.id, number=b, name=f"{b}栋")
        for b in range(1, shape.buildings + 1)
    }
    session.add_all(buildings.values())
    await session.flush()
    units = {
        (b, u): Unit(building_id=building.id, number=u)
        for b, building in buildings.items()
        for u in range(1, shape.units + 1)
    }
    session.add_all(units.values())
    await session.flush()
    floors = {
        (b, u, f): Floor(unit_id=unit.id, number=f)
        for (b, u), unit in units.items()
        for f in range(1, shape.floors + 1)
    }
    session.add_all(floors.values())
    await session.flush()
    rooms: dict[tuple[int, int, str], Room] = {}
    for (b, u, f), floor in floors.items():
        for i in range(1, shape.rooms_in(b) + 1):
            number = f"{f}{i:02d}"
            rooms[(b, u, number)] = Room(floor_id=floor.id, number=number)
    session.add_all(rooms.values())
    await session.flush()
    return compound, rooms
