"""The invites worth printing, each with the words to print under its QR code.

After a roster import the secretary hands out a stack of QR codes — one per person,
one per household — and each must say whose it is, or they end up on the wrong doors.
Only codes that still work are listed: a used personal code or an expired one would
only confuse the person who scans it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.catalog import Catalog
from bot.storage.models import Building, Compound, Invite, RoleGrant, User
from handlers import directory
from handlers.profile import short_address

PERSON, HOUSEHOLD, ROLE, COMPOUND = "person", "room", "role", "compound"


@dataclass(frozen=True)
class InviteCard:
    code: str
    kind: str  # person | room | role | compound
    compound: str  # code
    compound_name: str
    label: str  # whom or what it is for, in the catalogue's words
    uses: int
    max_uses: int
    expires_at: datetime | None

    def telegram_link(self, bot: str) -> str:
        return f"https://t.me/{bot.lstrip('@')}?start={self.code}"

    def web_link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/join/{self.code}"


async def invite_cards(
    session: AsyncSession, catalog: Catalog, now: datetime, compound: str | None = None
) -> list[InviteCard]:
    query = (
        select(Invite, Compound)
        .join(Compound, Compound.id == Invite.compound_id)
        .where(Invite.uses < Invite.max_uses)
        .where(or_(Invite.expires_at.is_(None), Invite.expires_at > now))
        .order_by(Compound.code, Invite.id)
    )
    if compound is not None:
        query = query.where(Compound.code == compound)
    cards: list[InviteCard] = []
    for invite, owner in (await session.execute(query)).tuples():
        kind, label = await _describe(session, catalog, invite, owner)
        cards.append(
            InviteCard(
                code=invite.code,
                kind=kind,
                compound=owner.code,
                compound_name=owner.name,
                label=label,
                uses=invite.uses,
                max_uses=invite.max_uses,
                expires_at=invite.expires_at,
            )
        )
    return cards


async def _describe(
    session: AsyncSession, catalog: Catalog, invite: Invite, compound: Compound
) -> tuple[str, str]:
    room = await _room(session, catalog, invite.room_id)
    if invite.user_id is not None:
        person = await session.get(User, invite.user_id)
        name = person.name if person is not None else ""
        roles = (
            await session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == invite.user_id))
        ).all()
        what = "、".join(dict.fromkeys(catalog.t(f"roles.{r}") for r in roles))
        if room:
            what = f"{what}、{room}" if what else room
        return PERSON, catalog.t("invite_card.person", name=name, what=what or "-")
    if invite.role is not None:
        scope = compound.name
        building = await session.get(Building, invite.building_id) if invite.building_id else None
        if building is not None:
            scope += catalog.t("address.building", building=building.number)
        if invite.floor_from is not None:
            scope += catalog.t(
                "invite_card.floors",
                low=invite.floor_from,
                high=invite.floor_to or invite.floor_from,
            )
        return ROLE, catalog.t(
            "invite_card.role", role=catalog.t(f"roles.{invite.role}"), scope=scope
        )
    if room:
        return HOUSEHOLD, catalog.t("invite_card.household", address=room)
    return COMPOUND, catalog.t("invite_card.compound", compound=compound.name)


async def _room(session: AsyncSession, catalog: Catalog, room_id: int | None) -> str:
    address = await directory.room_address(session, room_id) if room_id is not None else None
    return short_address(catalog, address) if address is not None else ""
