"""Who may do what to a case, decided on the server for every press and every command.

The case's lead does the work; co-handlers add progress; someone *above* them for that
place (the building's leader for a floor-level case, the compound's secretary, a county
admin) may act in their stead; only the secretary (or an admin) reassigns. Residents
add information to their own open cases and rate what was resolved for them. Each
action also needs the case to be in a state where it makes sense, so a second 办结 press
on a resolved case is refused instead of resolving twice.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.viewer import Viewer
from bot.storage.models import OPEN_STATUSES, Case, CaseMember, CaseStatus, Role


class Action(StrEnum):
    VIEW = "view"
    ACCEPT = "acc"
    PROGRESS = "prog"
    CO = "co"
    ESCALATE = "esc"
    RESOLVE = "res"
    REASSIGN = "rea"
    INFO = "info"
    RATE = "rate"


STATE_OK: dict[Action, tuple[str, ...]] = {
    Action.VIEW: tuple(CaseStatus),
    Action.ACCEPT: (CaseStatus.ASSIGNED, CaseStatus.REOPENED),
    Action.PROGRESS: OPEN_STATUSES,
    Action.CO: OPEN_STATUSES,
    Action.ESCALATE: OPEN_STATUSES,
    Action.RESOLVE: OPEN_STATUSES,
    Action.REASSIGN: OPEN_STATUSES,
    Action.INFO: OPEN_STATUSES,
    Action.RATE: (CaseStatus.RESOLVED,),
}


async def relation(session: AsyncSession, viewer: Viewer, case: Case) -> set[str]:
    """The viewer's standing on the case: lead, co, above, secretary, reporter, follower."""
    user = viewer.user
    if user is None:
        return set()
    out: set[str] = set()
    if case.lead_id == user.id:
        out.add("lead")
    if case.reporter_id == user.id:
        out.add("reporter")
    parts = set(
        (
            await session.scalars(
                select(CaseMember.part).where(
                    CaseMember.case_id == case.id, CaseMember.user_id == user.id
                )
            )
        ).all()
    )
    if "co" in parts:
        out.add("co")
    if "follower" in parts:
        out.add("follower")
    for grant in viewer.grants:
        in_compound = grant.compound_id in (None, case.compound_id)
        if grant.role == Role.ADMIN and in_compound:
            out |= {"above", "secretary"}
        elif grant.role == Role.SECRETARY and grant.compound_id == case.compound_id:
            out |= {"above", "secretary"}
        elif (
            grant.role == Role.BUILDING_LEADER
            and case.level == "floor"
            and case.building_id is not None
            and grant.building_id == case.building_id
        ):
            out.add("above")
    return out


WHO: dict[Action, set[str]] = {
    Action.VIEW: {"lead", "co", "above", "reporter", "follower"},
    Action.ACCEPT: {"lead"},
    Action.PROGRESS: {"lead", "co", "above"},
    Action.CO: {"lead", "above"},
    Action.ESCALATE: {"lead", "above"},
    Action.RESOLVE: {"lead", "above"},
    Action.REASSIGN: {"secretary"},
    Action.INFO: {"reporter", "follower"},
    Action.RATE: {"reporter"},
}


async def check(session: AsyncSession, viewer: Viewer, case: Case, action: Action) -> str | None:
    """None when allowed; otherwise the catalogue key of the reason."""
    standing = await relation(session, viewer, case)
    if not standing & WHO[action]:
        return "errors.denied"
    if case.status not in STATE_OK[action]:
        return "handling.not_now"
    return None
