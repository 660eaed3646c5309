"""Cases as plain records for operators: ``linli cases list/show`` and, later, exports.

Personal data is masked unless the operator asks to reveal it: a case record leaves
the chat, where only the case's handlers would have seen the reporter's name and room.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.catalog import Catalog
from bot.storage.models import Case, CaseEvent, CaseMember, Compound, User
from handlers import directory
from knowledge.matters import load_matters


def mask_name(name: str) -> str:
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """``138****5678``: enough to tell two numbers apart, not enough to dial one."""
    if len(phone) <= 4:
        return "*" * len(phone)
    if len(phone) < 8:
        return "*" * (len(phone) - 4) + phone[-4:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def room_label(building: int, unit: int, room: str, reveal: bool) -> str:
    """A flat as operators read it; the room number is hidden unless revealed."""
    if not reveal:
        return f"{building}栋{unit}单元****"
    return f"{building}栋{unit}单元{room}"


async def _person(session: AsyncSession, user_id: int | None, reveal: bool) -> str | None:
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    if user is None:
        return None
    return user.name if reveal else mask_name(user.name)


async def _room(session: AsyncSession, room_id: int | None, reveal: bool) -> str | None:
    if room_id is None:
        return None
    address = await directory.room_address(session, room_id)
    if address is None:
        return None
    return room_label(address.building, address.unit, address.room, reveal)


async def case_record(
    session: AsyncSession,
    case: Case,
    catalog: Catalog,
    *,
    reveal: bool = False,
    history: bool = False,
) -> dict[str, Any]:
    matter = load_matters().matters.get(case.matter_id)
    compound = await session.get(Compound, case.compound_id)
    co = (
        await session.scalars(
            select(CaseMember.user_id).where(CaseMember.case_id == case.id, CaseMember.part == "co")
        )
    ).all()
    record: dict[str, Any] = {
        "number": case.number,
        "compound": compound.code if compound else None,
        "kind": case.kind,
        "matter": case.matter_id,
        "matter_name": matter.name if matter else case.matter_id,
        "legal_basis": list(matter.legal_basis) if matter else [],
        "status": case.status,
        "level": case.level,
        "lead": await _person(session, case.lead_id, True),
        "co_handlers": [await _person(session, u, True) for u in co],
        "reporter": await _person(session, case.reporter_id, reveal),
        "reporter_room": await _room(session, case.room_id, reveal),
        "counterparty_room": await _room(session, case.counterparty_room_id, reveal),
        "area": case.area,
        "text": case.text,
        "reported_at": case.created_at.isoformat(),
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "satisfaction": case.satisfaction,
        "escalations": case.escalations,
        "reopens": case.reopens,
    }
    if history:
        events = (
            await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        ).all()
        record["events"] = [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "what": catalog.t(f"events.{e.kind}"),
                "level": e.level,
                "actor": await _person(
                    session, e.actor_id, reveal or e.actor_id != case.reporter_id
                ),
                "text": e.text,
                "data": e.data,
            }
            for e in events
        ]
    return record
