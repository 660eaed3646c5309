"""Who a broadcast reaches: target specs, who may use them, and the recipient list.

Specs are plain strings so the command line, the chat flow and the stored row all say
the same thing: ``compound:SDDJ``, ``building:SDDJ-1``, ``role:building_leader`` (in
the sender's compound, or ``role:building_leader@SDDJ``), ``all``. Recipients are
resolved when the broadcast starts, not when it is composed, so people who register
in between are included and people who unsubscribed in between are not.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.viewer import Viewer
from bot.storage.models import (
    Building,
    ChannelIdentity,
    Compound,
    Floor,
    Role,
    RoleGrant,
    Room,
    Unit,
    User,
)

SENDER_ROLES = frozenset({Role.SECRETARY, Role.ADMIN})


class TargetError(ValueError):
    """A spec that names nothing, or something the sender may not reach."""


@dataclass(frozen=True)
class Target:
    kind: str  # "compound" | "building" | "role" | "all"
    compound: str | None = None  # compound code
    building: int | None = None  # building number within the compound
    role: str | None = None

    @property
    def spec(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "compound":
            return f"compound:{self.compound}"
        if self.kind == "building":
            return f"building:{self.compound}-{self.building}"
        return f"role:{self.role}" + (f"@{self.compound}" if self.compound else "")


@dataclass(frozen=True)
class Recipient:
    user_id: int
    channel: str
    chat_id: str
    external_id: str


def parse_targets(specs: str | list[str]) -> list[Target]:
    """``"building:SDDJ-1,SDDJ-2"`` or ``["compound:SDDJ", "role:secretary"]`` → targets."""
    items = specs if isinstance(specs, list) else [specs]
    targets: list[Target] = []
    for item in items:
        kind, _, rest = item.strip().partition(":")
        values = [v.strip() for v in rest.split(",") if v.strip()]
        if kind == "all" and not values:
            targets.append(Target("all"))
        elif kind == "compound" and values:
            targets += [Target("compound", compound=v.upper()) for v in values]
        elif kind == "building" and values:
            for value in values:
                code, _, number = value.rpartition("-")
                if not code or not number.isdigit():
                    raise TargetError(f"building {value!r}: expected CODE-NUMBER, e.g. SDDJ-1")
                targets.append(Target("building", compound=code.upper(), building=int(number)))
        elif kind == "role" and values:
            for value in values:
                role, _, code = value.partition("@")
                if role not in {r.value for r in Role}:
                    raise TargetError(f"unknown role {role!r}")
                targets.append(Target("role", compound=code.upper() or None, role=role))
        else:
            raise TargetError(
                f"target {item!r}: use compound:CODE, building:CODE-N, role:ROLE or all"
            )
    if not targets:
        raise TargetError("no target given")
    return targets


def sender_compound(viewer: Viewer) -> int | None:
    """The compound a secretary broadcasts to; None for a county admin (any compound)."""
    if viewer.has_role(Role.ADMIN):
        return None
    for grant in viewer.grants:
        if grant.role == Role.SECRETARY and grant.compound_id is not None:
            return grant.compound_id
    raise TargetError("only secretaries and admins may broadcast")


def may_broadcast(viewer: Viewer) -> bool:
    return viewer.has_role(*SENDER_ROLES)


async def check_targets(
    session: AsyncSession, targets: list[Target], compound_id: int | None
) -> None:
    """Every target exists, and lies inside ``compound_id`` when the sender is bound to
    one (a secretary reaches only their own compound)."""
    codes: dict[str, int] = {}
    for target in targets:
        if target.compound is None:
            if target.kind == "all" and compound_id is not None:
                raise TargetError("a secretary may broadcast to their own compound only")
            continue
        if target.compound not in codes:
            found = await session.scalar(
                select(Compound.id).where(Compound.code == target.compound)
            )
            if found is None:
                raise TargetError(f"no compound {target.compound}")
            codes[target.compound] = found
        if compound_id is not None and codes[target.compound] != compound_id:
            raise TargetError("a secretary may broadcast to their own compound only")
        if target.kind == "building":
            building = await session.scalar(
                select(Building.id).where(
                    Building.compound_id == codes[target.compound],
                    Building.number == target.building,
                )
            )
            if building is None:
                raise TargetError(f"no building {target.spec.removeprefix('building:')}")


def _users_of(target: Target, compound_id: int | None) -> Select[tuple[int]]:
    in_compound = (
        select(User.id)
        .join(Room, Room.id == User.room_id)
        .join(Floor, Floor.id == Room.floor_id)
        .join(Unit, Unit.id == Floor.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Compound, Compound.id == Building.compound_id)
    )
    staff = select(RoleGrant.user_id).join(Compound, Compound.id == RoleGrant.compound_id)
    if target.kind == "building":
        return in_compound.where(
            Compound.code == target.compound, Building.number == target.building
        )
    if target.kind == "compound":
        return in_compound.where(Compound.code == target.compound).union(
            staff.where(Compound.code == target.compound)
        )
    if target.kind == "role":
        query = select(RoleGrant.user_id).where(RoleGrant.role == target.role)
        if target.compound is not None:
            query = query.where(
                RoleGrant.compound_id
                == select(Compound.id).where(Compound.code == target.compound).scalar_subquery()
            )
        elif compound_id is not None:
            query = query.where(RoleGrant.compound_id == compound_id)
        return query
    return select(User.id).where(
        or_(User.room_id.is_not(None), User.id.in_(select(RoleGrant.user_id)))
    )


async def resolve_recipients(
    session: AsyncSession, targets: list[Target], compound_id: int | None
) -> list[Recipient]:
    """Each user the targets name, once, on the channel they used most recently and can
    still be reached on; people who unsubscribed are left out."""
    user_ids: set[int] = set()
    for target in targets:
        user_ids.update((await session.scalars(_users_of(target, compound_id))).all())
    if not user_ids:
        return []
    best: dict[int, Recipient] = {}
    ordered = sorted(user_ids)
    for start in range(0, len(ordered), 5000):
        rows = await session.execute(
            select(
                ChannelIdentity.user_id,
                ChannelIdentity.channel,
                ChannelIdentity.chat_id,
                ChannelIdentity.external_id,
            )
            .join(User, User.id == ChannelIdentity.user_id)
            .where(
                ChannelIdentity.user_id.in_(ordered[start : start + 5000]),
                ChannelIdentity.unreachable_at.is_(None),
                User.notices_off_at.is_(None),
            )
            .order_by(ChannelIdentity.last_seen_at, ChannelIdentity.id)
        )
        for user_id, channel, chat_id, external_id in rows:
            best[user_id] = Recipient(user_id, channel, chat_id, external_id)  # latest wins
    return [best[u] for u in sorted(best)]
