"""Finding the open case a new report duplicates, so residents join it (附议) instead
of opening ten cases about one broken lift.

Same matter, same place, open, reported within the last 7 days, similar words. "Same
place" depends on the matter: a common facility is the same building (or the same
named area of the compound); a problem in a flat, or between two flats, is the same
room. A dispute between the same two flats is always the same case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import and_, func, or_, select

from bot.core.context import Context
from bot.storage.models import OPEN_STATUSES, Case, CaseMember
from knowledge.matters import load_matters
from knowledge.recognize import default_recognizer

WINDOW = timedelta(days=7)
SIMILAR = 45


@dataclass(frozen=True)
class Duplicate:
    case: Case
    followers: int
    same_rooms: bool = False


async def find_duplicate(ctx: Context, draft: dict[str, Any]) -> Duplicate | None:
    user = ctx.viewer.user
    assert user is not None
    matter = load_matters().matters[draft["matter"]]
    open_recent = and_(
        Case.compound_id == draft["compound_id"],
        Case.status.in_(OPEN_STATUSES),
        Case.reporter_id != user.id,
    )
    mine, other = draft.get("room_id"), draft.get("counterparty_room_id")
    if matter.kind == "dispute" and mine and other:
        case = await ctx.session.scalar(
            select(Case)
            .where(
                open_recent,
                Case.kind == "dispute",
                or_(
                    and_(Case.room_id == mine, Case.counterparty_room_id == other),
                    and_(Case.room_id == other, Case.counterparty_room_id == mine),
                ),
            )
            .order_by(Case.id)
            .limit(1)
        )
        if case is not None:
            return Duplicate(case, await _followers(ctx, case), same_rooms=True)
    query = select(Case).where(
        open_recent,
        Case.matter_id == matter.id,
        Case.created_at >= ctx.now - WINDOW,
    )
    if matter.place == "common":
        query = query.where(
            Case.building_id.is_(None)
            if draft.get("building_id") is None
            else Case.building_id == draft["building_id"]
        )
    else:
        query = query.where(Case.room_id == mine) if mine else query.where(False)
    tokens = " ".join(default_recognizer().tokenizer.tokens(draft["text"]))
    for case in (await ctx.session.scalars(query.order_by(Case.id.desc()).limit(20))).all():
        theirs = " ".join(default_recognizer().tokenizer.tokens(case.text))
        if draft.get("area") and case.area and fuzz.ratio(draft["area"], case.area) < 60:
            continue
        if fuzz.token_set_ratio(tokens, theirs) >= SIMILAR:
            return Duplicate(case, await _followers(ctx, case))
    return None


async def _followers(ctx: Context, case: Case) -> int:
    return (
        await ctx.session.scalar(
            select(func.count())
            .select_from(CaseMember)
            .where(CaseMember.case_id == case.id, CaseMember.part == "follower")
        )
    ) or 0
