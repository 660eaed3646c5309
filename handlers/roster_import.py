"""Writing a checked roster into the database, inside the caller's one transaction.

Re-importing the same file changes nothing: compounds are found by code, buildings by
number, flats by number, people by their roster 编号 (``User.roster_key``), invites by
the person or flat they belong to. A changed file updates in place: a person's roster
roles and zones become what the file says (roles they got from an invite code stay),
and the structure only grows — flats are never deleted under registered residents.

A person is reachable at once when the file gives their Telegram id; everybody else
gets a personal invite (``Invite.user_id``) that ties the chat which redeems it to the
imported person, with their roles. Until then a resident's flat waits on that invite
rather than on the user, so the 登记情况 figures count only households that answered.
Each flat with residents also gets a household invite for family members the roster
does not list.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import (
    Building,
    ChannelIdentity,
    Compound,
    Floor,
    Invite,
    ResponsibilityZone,
    Role,
    RoleGrant,
    Room,
    Unit,
    User,
)
from handlers.roster import PersonSpec, Roster
from handlers.roster_sheets import Problem

ROSTER_SOURCE = "roster"
TELEGRAM = "telegram"
HOUSEHOLD_INVITE_USES = 10
HOUSEHOLD_NOTE = "roster: household"
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: codes get typed
_CHUNK = 500

T = TypeVar("T")


@dataclass
class ImportSummary:
    compounds_created: int = 0
    compounds_updated: int = 0
    buildings_created: int = 0
    buildings_updated: int = 0
    rooms_created: int = 0
    rooms: int = 0
    people_created: int = 0
    people_updated: int = 0
    people: int = 0
    roles_added: int = 0
    roles_removed: int = 0
    roles: int = 0
    zones_added: int = 0
    zones_removed: int = 0
    zones: int = 0
    telegram_linked: int = 0
    invites_created: int = 0
    invites_updated: int = 0
    invites: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def lines(self) -> list[str]:
        def part(total: int, created: int, updated: int, verb: str = "updated") -> str:
            return f"{total} ({created} new, {updated} {verb})"

        return [
            f"compounds: {self.compounds_created} new, {self.compounds_updated} updated",
            f"buildings: {self.buildings_created} new, {self.buildings_updated} updated",
            f"rooms:     {self.rooms} ({self.rooms_created} new)",
            f"people:    {part(self.people, self.people_created, self.people_updated)}",
            f"roles:     {part(self.roles, self.roles_added, self.roles_removed, 'removed')}",
            f"zones:     {part(self.zones, self.zones_added, self.zones_removed, 'removed')}",
            f"telegram:  {self.telegram_linked} accounts linked",
            f"invites:   {part(self.invites, self.invites_created, self.invites_updated)}",
        ]


# -- checks that need the database -----------------------------------------------------
async def database_problems(session: AsyncSession, roster: Roster) -> list[Problem]:
    """A Telegram id that already belongs to another person stops the import."""
    by_tid = {p.telegram_id: p for p in roster.people if p.telegram_id}
    if not by_tid:
        return []
    keyed = {
        u.roster_key: u.id
        for u in await _in(
            session, lambda keys: select(User).where(User.roster_key.in_(keys)), _keys(roster)
        )
    }
    problems: list[Problem] = []
    found = await _in(
        session,
        lambda ids: select(ChannelIdentity).where(
            ChannelIdentity.channel == TELEGRAM, ChannelIdentity.external_id.in_(ids)
        ),
        list(by_tid),
    )
    for identity in found:
        person = by_tid[identity.external_id]
        owner = await session.get(User, identity.user_id)
        assert owner is not None
        row = roster.people_rows[person.sources["telegram_id"]]
        if owner.roster_key is not None and owner.roster_key != person.key:
            problems.append(
                row.problem(
                    "telegram_id",
                    f"Telegram id {identity.external_id} already belongs to person "
                    f"{owner.roster_key} in the database",
                )
            )
        elif person.key in keyed and keyed[person.key] != owner.id:
            problems.append(
                row.problem(
                    "telegram_id",
                    f"Telegram id {identity.external_id} is registered to another account "
                    f"(user #{owner.id} {owner.name}) than person {person.key}",
                )
            )
    return problems


# -- the import --------------------------------------------------------------------------
async def import_roster(session: AsyncSession, roster: Roster, now: datetime) -> ImportSummary:
    """Write ``roster`` (already validated, ``database_problems`` empty) and count the changes."""
    summary = ImportSummary()
    compounds = await _compounds(session, roster, summary)
    buildings, rooms = await _structure(session, roster, compounds, summary)
    writer = _PeopleWriter(session, roster, compounds, buildings, rooms, summary, now)
    await writer.run()
    return summary


async def _compounds(
    session: AsyncSession, roster: Roster, summary: ImportSummary
) -> dict[str, Compound]:
    codes = [c.code for c in roster.compounds]
    found = {
        c.code: c
        for c in await _in(session, lambda v: select(Compound).where(Compound.code.in_(v)), codes)
    }
    for spec in roster.compounds:
        compound = found.get(spec.code)
        if compound is None:
            compound = found[spec.code] = Compound(
                code=spec.code, name=spec.name, district=spec.district
            )
            session.add(compound)
            summary.compounds_created += 1
        elif (compound.name, compound.district) != (spec.name, spec.district):
            compound.name, compound.district = spec.name, spec.district
            summary.compounds_updated += 1
    await session.flush()
    return found


async def _structure(
    session: AsyncSession,
    roster: Roster,
    compounds: dict[str, Compound],
    summary: ImportSummary,
) -> tuple[dict[tuple[str, int], Building], dict[tuple[str, int, int, str], int]]:
    """Buildings, units, floors and flats the file names, created where missing: one query
    and one flush per level, scoped by compound so no IN list grows with the county."""
    code_of = {c.id: code for code, c in compounds.items()}
    ids = list(code_of)
    buildings = {
        (code_of[b.compound_id], b.number): b
        for b in (
            await session.scalars(select(Building).where(Building.compound_id.in_(ids)))
        ).all()
    }
    for spec in roster.buildings:
        building = buildings.get((spec.compound, spec.number))
        if building is None:
            building = Building(
                compound_id=compounds[spec.compound].id, number=spec.number, name=spec.name
            )
            buildings[spec.compound, spec.number] = building
            session.add(building)
            summary.buildings_created += 1
        elif building.name != spec.name:
            building.name = spec.name
            summary.buildings_updated += 1
    await session.flush()
    place = {b.id: key for key, b in buildings.items()}  # building id → (code, number)

    units = {
        (u.building_id, u.number): u
        for u in (
            await session.scalars(select(Unit).join(Building).where(Building.compound_id.in_(ids)))
        ).all()
    }
    for spec in roster.buildings:
        building = buildings[spec.compound, spec.number]
        for n in range(1, spec.units + 1):
            if (building.id, n) not in units:
                units[building.id, n] = Unit(building_id=building.id, number=n)
                session.add(units[building.id, n])
    await session.flush()

    floors = {
        (f.unit_id, f.number): f
        for f in (
            await session.scalars(
                select(Floor).join(Unit).join(Building).where(Building.compound_id.in_(ids))
            )
        ).all()
    }
    for spec in roster.buildings:
        building = buildings[spec.compound, spec.number]
        for u in range(1, spec.units + 1):
            unit = units[building.id, u]
            for n in range(1, spec.floors + 1):
                if (unit.id, n) not in floors:
                    floors[unit.id, n] = Floor(unit_id=unit.id, number=n)
                    session.add(floors[unit.id, n])
    await session.flush()

    existing = {
        (floor_id, number): room_id
        for room_id, floor_id, number in (
            await session.execute(
                select(Room.id, Room.floor_id, Room.number)
                .join(Floor)
                .join(Unit)
                .join(Building)
                .where(Building.compound_id.in_(ids))
            )
        ).tuples()
    }
    new: dict[tuple[str, int, int, str], Room] = {}
    rooms: dict[tuple[str, int, int, str], int] = {}
    for spec in roster.buildings:
        building = buildings[spec.compound, spec.number]
        code, number = place[building.id]
        for u in range(1, spec.units + 1):
            unit = units[building.id, u]
            for f in range(1, spec.floors + 1):
                floor = floors[unit.id, f]
                for room_number in spec.room_numbers(f):
                    key = (code, number, u, room_number)
                    room_id = existing.get((floor.id, room_number))
                    if room_id is None:
                        new[key] = Room(floor_id=floor.id, number=room_number)
                    else:
                        rooms[key] = room_id
    session.add_all(new.values())
    await session.flush()
    rooms |= {key: room.id for key, room in new.items()}
    summary.rooms_created = len(new)
    summary.rooms = sum(spec.room_count for spec in roster.buildings)
    return buildings, rooms


class _PeopleWriter:
    """People, their channel identities, roles, zones and invites, in a few batched queries."""

    def __init__(
        self,
        session: AsyncSession,
        roster: Roster,
        compounds: dict[str, Compound],
        buildings: dict[tuple[str, int], Building],
        rooms: dict[tuple[str, int, int, str], int],
        summary: ImportSummary,
        now: datetime,
    ) -> None:
        self.session = session
        self.roster = roster
        self.compounds = compounds
        self.buildings = buildings
        self.rooms = rooms
        self.summary = summary
        self.now = now
        self.created: set[str] = set()  # keys of people new in this import
        self.changed: set[str] = set()  # keys of people whose data, roles or zones changed

    async def run(self) -> None:
        people = self.roster.people
        users = await self.users(people)
        reachable = await self.identities(people, users)
        for person in people:
            self.details(person, users[person.key], person.key in reachable)
        await self.session.flush()
        await self.grants(people, users)
        await self.zones(people, users)
        await self.invites(people, users)
        self.summary.people = len(people)
        self.summary.people_updated = len(self.changed - self.created)

    def room_of(self, person: PersonSpec) -> int | None:
        home = person.home
        if home is None:
            return None
        return self.rooms[home.compound, home.building, home.unit, home.room]

    async def users(self, people: list[PersonSpec]) -> dict[str, User]:
        """Each person's user: by roster key, else the account their Telegram id already has
        (someone who registered before the import keeps their history), else a new one."""
        found = {
            u.roster_key: u
            for u in await _in(
                self.session,
                lambda v: select(User).where(User.roster_key.in_(v)),
                [p.key for p in people],
            )
        }
        tids = [p.telegram_id for p in people if p.telegram_id and p.key not in found]
        adopted = {
            identity.external_id: identity.user_id
            for identity in await _in(
                self.session,
                lambda v: select(ChannelIdentity).where(
                    ChannelIdentity.channel == TELEGRAM, ChannelIdentity.external_id.in_(v)
                ),
                tids,
            )
        }
        users: dict[str, User] = {}
        for person in people:
            user = found.get(person.key)
            if user is None and person.telegram_id in adopted:
                user = await self.session.get(User, adopted[person.telegram_id])
                self.changed.add(person.key)
            if user is None:
                user = User(name=person.name or "", created_at=self.now)
                self.session.add(user)
                self.created.add(person.key)
                self.summary.people_created += 1
            user.roster_key = person.key
            users[person.key] = user
        await self.session.flush()
        return users

    async def identities(self, people: list[PersonSpec], users: dict[str, User]) -> set[str]:
        """Link Telegram ids; returns the keys of people some channel already reaches."""
        ids = {users[p.key].id: p.key for p in people}
        linked = await _in(
            self.session,
            lambda v: select(ChannelIdentity).where(ChannelIdentity.user_id.in_(v)),
            list(ids),
        )
        reachable = {ids[i.user_id] for i in linked}
        have = {(i.channel, i.external_id) for i in linked}
        for person in people:
            if person.telegram_id and (TELEGRAM, person.telegram_id) not in have:
                self.session.add(
                    ChannelIdentity(
                        channel=TELEGRAM,
                        external_id=person.telegram_id,
                        chat_id=person.telegram_id,
                        user_id=users[person.key].id,
                        display_name=(person.name or "")[:100],
                        last_seen_at=self.now,
                    )
                )
                reachable.add(person.key)
                self.summary.telegram_linked += 1
        return reachable

    def details(self, person: PersonSpec, user: User, reachable: bool) -> None:
        wanted: dict[str, Any] = {"name": person.name or user.name}
        if person.phone:
            wanted["phone"] = person.phone
        if person.relation:
            wanted["relation"] = person.relation
        room_id = self.room_of(person)
        if room_id is not None and reachable:
            # A resident someone can reach lives there now; the others' flat waits on
            # their invite, so coverage counts only households that answered.
            wanted["room_id"] = room_id
            if user.registered_at is None:
                wanted["registered_at"] = self.now
        for name, value in wanted.items():
            if getattr(user, name) != value:
                setattr(user, name, value)
                self.changed.add(person.key)

    async def grants(self, people: list[PersonSpec], users: dict[str, User]) -> None:
        compound_ids = {c.id for c in self.compounds.values()}
        by_user: dict[int, list[RoleGrant]] = defaultdict(list)
        for grant in await _in(
            self.session,
            lambda v: select(RoleGrant).where(RoleGrant.user_id.in_(v)),
            [u.id for u in users.values()],
        ):
            by_user[grant.user_id].append(grant)
        for person in people:
            user = users[person.key]
            wanted: set[tuple[str, int | None, int | None]] = set()
            for duty in person.duties:
                compound = self.compounds[duty.compound]
                building = (
                    self.buildings[duty.compound, duty.building].id
                    if duty.building is not None
                    else None
                )
                if duty.role == Role.ADMIN.value:
                    wanted.add((duty.role, None, None))
                else:
                    wanted.add((duty.role, compound.id, building))
            self.summary.roles += len(wanted)
            held = {(g.role, g.compound_id, g.building_id): g for g in by_user[user.id]}
            for scope, grant in held.items():
                ours = grant.compound_id is None or grant.compound_id in compound_ids
                if grant.source == ROSTER_SOURCE and ours and scope not in wanted:
                    await self.session.delete(grant)
                    self.summary.roles_removed += 1
                    self.changed.add(person.key)
            for role, compound_id, building_id in wanted - set(held):
                self.session.add(
                    RoleGrant(
                        user_id=user.id,
                        role=role,
                        compound_id=compound_id,
                        building_id=building_id,
                        source=ROSTER_SOURCE,
                        created_at=self.now,
                    )
                )
                self.summary.roles_added += 1
                self.changed.add(person.key)
        await self.session.flush()

    async def zones(self, people: list[PersonSpec], users: dict[str, User]) -> None:
        building_ids = {b.id for b in self.buildings.values()}
        held: dict[int, list[ResponsibilityZone]] = defaultdict(list)
        for zone in await _in(
            self.session,
            lambda v: select(ResponsibilityZone).where(ResponsibilityZone.member_id.in_(v)),
            [u.id for u in users.values()],
        ):
            if zone.building_id in building_ids:
                held[zone.member_id].append(zone)
        for person in people:
            user = users[person.key]
            wanted = {
                (self.buildings[d.compound, d.building].id, d.floors[0], d.floors[1])
                for d in person.duties
                if d.floors is not None and d.building is not None
            }
            self.summary.zones += len(wanted)
            have = {(z.building_id, z.floor_from, z.floor_to): z for z in held[user.id]}
            for scope, zone in have.items():
                if scope not in wanted:
                    await self.session.delete(zone)
                    self.summary.zones_removed += 1
                    self.changed.add(person.key)
            for building_id, low, high in wanted - set(have):
                self.session.add(
                    ResponsibilityZone(
                        building_id=building_id, floor_from=low, floor_to=high, member_id=user.id
                    )
                )
                self.summary.zones_added += 1
                self.changed.add(person.key)
        await self.session.flush()

    async def invites(self, people: list[PersonSpec], users: dict[str, User]) -> None:
        personal = {
            i.user_id: i
            for i in await _in(
                self.session,
                lambda v: select(Invite).where(Invite.user_id.in_(v)).order_by(Invite.id),
                [u.id for u in users.values()],
            )
        }
        homes = {
            room_id: person.home.compound
            for person in people
            if person.home is not None and (room_id := self.room_of(person)) is not None
        }
        household = {
            i.room_id: i
            for i in await _in(
                self.session,
                lambda v: select(Invite).where(
                    Invite.room_id.in_(v),
                    Invite.user_id.is_(None),
                    Invite.role.is_(None),
                    Invite.note == HOUSEHOLD_NOTE,
                ),
                list(homes),
            )
        }
        fresh: list[Invite] = []
        for person in people:
            user = users[person.key]
            compound_id = self.compounds[person.compound].id
            room_id = self.room_of(person)
            invite = personal.get(user.id)
            if invite is None:
                invite = Invite(
                    compound_id=compound_id,
                    user_id=user.id,
                    room_id=room_id,
                    max_uses=1,
                    note=f"roster: {person.key}"[:200],
                    created_at=self.now,
                )
                fresh.append(invite)
            elif (invite.compound_id, invite.room_id) != (compound_id, room_id):
                invite.compound_id, invite.room_id = compound_id, room_id
                self.summary.invites_updated += 1
        for room_id, code in homes.items():
            if room_id not in household:
                fresh.append(
                    Invite(
                        compound_id=self.compounds[code].id,
                        room_id=room_id,
                        max_uses=HOUSEHOLD_INVITE_USES,
                        note=HOUSEHOLD_NOTE,
                        created_at=self.now,
                    )
                )
        await self._name(fresh)
        self.session.add_all(fresh)
        self.summary.invites_created = len(fresh)
        self.summary.invites = len(people) + len(homes)
        await self.session.flush()

    async def _name(self, invites: list[Invite]) -> None:
        """Random codes with the compound's prefix (``HYJY-7KQ2MX``), none already taken."""
        prefix = {c.id: code for code, c in self.compounds.items()}
        pending = list(invites)
        while pending:
            for invite in pending:
                invite.code = f"{prefix[invite.compound_id]}-{_token()}"
            codes = [i.code for i in pending]
            taken = {
                i.code
                for i in await _in(
                    self.session, lambda v: select(Invite).where(Invite.code.in_(v)), codes
                )
            }
            seen: set[str] = set()
            again: list[Invite] = []
            for invite in pending:
                if invite.code in taken or invite.code in seen:
                    again.append(invite)
                seen.add(invite.code)
            pending = again


def _token(length: int = 6) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def _keys(roster: Roster) -> list[str]:
    return [p.key for p in roster.people]


async def _in(
    session: AsyncSession, query: Callable[[Sequence[Any]], Select[tuple[T]]], values: Iterable[Any]
) -> list[T]:
    """Run ``query`` over ``values`` in chunks: PostgreSQL and SQLite cap bound parameters."""
    items = list(dict.fromkeys(values))
    out: list[T] = []
    for start in range(0, len(items), _CHUNK):
        out += (await session.scalars(query(items[start : start + _CHUNK]))).all()
    return out
