"""The dashboard's ledger queries: one page of cases under the operator's filters, and
the filter choices, always inside the compounds the operator answers for.

Scope is applied in the query itself (never by hiding rows afterwards), so a secretary
cannot page, search or guess their way into another compound's cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import OPEN_STATUSES, Case, Compound, User
from handlers.statistics import overdue_condition
from knowledge.matters import load_matters

PAGE = 50


def parse_day(value: str) -> date | None:
    """A date from a form field (``2026-11-25``); empty or malformed means no bound."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class LedgerFilter:
    compound: str = ""  # compound code
    status: str = ""
    matter: str = ""
    level: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Any) -> LedgerFilter:
        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            compound=query.get("compound", "").strip().upper()[:16],
            status=query.get("status", "").strip()[:16],
            matter=query.get("matter", "").strip()[:40],
            level=query.get("level", "").strip()[:16],
            since=parse_day(query.get("from", "")),
            until=parse_day(query.get("to", "")),
            q=query.get("q", "").strip()[:100],
            page=page,
        )

    def as_query(self, **changes: Any) -> dict[str, str]:
        values = {
            "compound": self.compound,
            "status": self.status,
            "matter": self.matter,
            "level": self.level,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
            "q": self.q,
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


@dataclass
class LedgerPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    page: int = 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))


def _scoped(query: Select[Any], compound_ids: set[int] | None) -> Select[Any]:
    if compound_ids is None:
        return query
    return query.where(Case.compound_id.in_(compound_ids or {-1}))


def _filtered(query: Select[Any], f: LedgerFilter, timezone: str) -> Select[Any]:
    zone = ZoneInfo(timezone)
    if f.compound:
        query = query.where(Compound.code == f.compound)
    if f.status == "open":
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif f.status:
        query = query.where(Case.status == f.status)
    if f.matter:
        query = query.where(Case.matter_id == f.matter)
    if f.level:
        query = query.where(Case.level == f.level)
    if f.since:
        query = query.where(Case.created_at >= datetime.combine(f.since, time(), zone))
    if f.until:
        end = datetime.combine(f.until + timedelta(days=1), time(), zone)
        query = query.where(Case.created_at < end)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Case.number.ilike(like), Case.text.ilike(like)))
    return query


async def ledger_page(
    session: AsyncSession,
    f: LedgerFilter,
    compound_ids: set[int] | None,
    timezone: str,
    now: datetime,
) -> LedgerPage:
    base = (
        select(Case, Compound.name, User.name)
        .join(Compound, Compound.id == Case.compound_id)
        .outerjoin(User, User.id == Case.lead_id)
    )
    base = _filtered(_scoped(base, compound_ids), f, timezone)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = await session.execute(
        base.add_columns(overdue_condition(now))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .offset((f.page - 1) * PAGE)
        .limit(PAGE)
    )
    matters = load_matters().matters
    zone = ZoneInfo(timezone)
    out = []
    for case, compound_name, lead_name, overdue in rows:
        matter = matters.get(case.matter_id)
        out.append(
            {
                "number": case.number,
                "compound": compound_name,
                "matter": matter.name if matter else case.matter_id,
                "level": case.level,
                "status": case.status,
                "lead": lead_name or "",
                "reported_at": case.created_at.astimezone(zone),
                "deadline": case.deadline.astimezone(zone) if case.deadline else None,
                "overdue": bool(overdue),  # as the statistics count it
                "satisfaction": case.satisfaction or "",
                "text": case.text,
            }
        )
    return LedgerPage(out, int(total), f.page)


async def visible_compounds(session: AsyncSession, compound_ids: set[int] | None) -> list[Compound]:
    query = select(Compound).order_by(Compound.code)
    if compound_ids is not None:
        query = query.where(Compound.id.in_(compound_ids or {-1}))
    return list((await session.scalars(query)).all())


async def case_in_scope(
    session: AsyncSession, number: str, compound_ids: set[int] | None
) -> Case | None:
    case = await session.scalar(select(Case).where(Case.number == number))
    if case is None or (compound_ids is not None and case.compound_id not in compound_ids):
        return None
    return case
