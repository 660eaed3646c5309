"""Ledger statistics: per month and compound, and per handler, for a period.

One computation feeds every reader — ``linli stats --json``, the workbook's statistics
sheet, the chat's 本月统计 and the charts — so the figure a secretary reads in the chat
is the figure in the exported ledger. It is aggregated in SQL: a year of 100,000 cases
is two scans, never 100,000 ORM objects.

Definitions (README, "Ledger and statistics"):

- A case counts in the month it was *reported*, in the configured time zone.
- *resolved*: it has a resolution time (办结, or closed after one). 不满意 reopens a case
  and clears it, so a reopened case is not resolved until it is resolved again.
- *overdue*: escalated by the clock at least once (SLA), resolved after the deadline in
  force, or still open past it now. *on time*: resolved and not overdue.
- *settled at home level* (小事不出楼栋): resolved at the matter's home level with no
  escalation; its rate is over resolved cases.
- Satisfaction is the last rating: the share of 满意 among rated cases, and a mean score
  with 满意 100, 基本满意 60, 不满意 0 (the scale the 三维考评 sheet uses).
- Per handler: the cases a person leads now — who answers for them in the ledger.

Usage::

    period = Period(date(2026, 1, 1), date(2026, 12, 31), "Asia/Shanghai")
    stats = await compute_statistics(session, period, Scope(compound_ids=(1,)), now=utcnow())
    stats.as_dict()["months"][0]["on_time_rate"]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import OPEN_STATUSES, Case, CaseEvent, Compound, RoleGrant, User
from knowledge.matters import MatterTable, load_matters

SATISFACTION_SCORES = {"satisfied": 100, "basic": 60, "unsatisfied": 0}
# Statuses in the order a case lives them: how sheets and charts list them.
STATUS_ORDER = (
    "new",
    "assigned",
    "accepted",
    "in_progress",
    "reopened",
    "resolved",
    "closed",
    "merged",
)
SLA_EVENTS = ("escalated", "overdue_at_top")
SLA_REASON = "sla"  # the reason the scheduler gives (bot/scheduler/jobs.py)


# -- the period and the scope -------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local calendar days, both ends included; an open end means "since/until ever"."""

    first: date | None = None
    last: date | None = None
    timezone: str = "Asia/Shanghai"

    @classmethod
    def month_of(cls, moment: datetime, timezone: str) -> Period:
        local = moment.astimezone(ZoneInfo(timezone)).date()
        first = local.replace(day=1)
        return cls(first, _next_month(first) - timedelta(days=1), timezone)

    @property
    def start(self) -> datetime | None:
        return self._midnight(self.first) if self.first else None

    @property
    def end(self) -> datetime | None:
        """Exclusive: midnight after the last day."""
        return self._midnight(self.last + timedelta(days=1)) if self.last else None

    def _midnight(self, day: date) -> datetime:
        local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.timezone))
        return local.astimezone(UTC)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "timezone": self.timezone,
        }


@dataclass(frozen=True)
class Scope:
    """Which cases: some compounds (none given: all) and, within them, some buildings."""

    compound_ids: tuple[int, ...] = ()
    building_ids: tuple[int, ...] = ()


class UnknownCompound(LookupError):
    pass


async def compound_ids(session: AsyncSession, codes: Sequence[str]) -> tuple[int, ...]:
    """Compound codes (``SDDJ``) to ids; an unknown code is an error, not an empty ledger."""
    if not codes:
        return ()
    found = dict(
        (await session.execute(select(Compound.code, Compound.id).where(Compound.code.in_(codes))))
        .tuples()
        .all()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise UnknownCompound(f"no compound with code {', '.join(missing)}")
    return tuple(found[c] for c in codes)


def case_filter(period: Period, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE of every ledger query, so the export and the statistics count alike."""
    where: list[ColumnElement[bool]] = []
    if period.start is not None:
        where.append(Case.created_at >= period.start)
    if period.end is not None:
        where.append(Case.created_at < period.end)
    if scope.compound_ids:
        where.append(Case.compound_id.in_(scope.compound_ids))
    if scope.building_ids:
        where.append(Case.building_id.in_(scope.building_ids))
    return where


# -- per-case facts as SQL ------------------------------------------------------------


def resolved_condition() -> ColumnElement[bool]:
    return Case.resolved_at.is_not(None)


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Escalated by the clock, resolved late, or open past the deadline at ``now``."""
    by_clock = exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.kind.in_(SLA_EVENTS),
        CaseEvent.text == SLA_REASON,
    )
    late = and_(
        Case.resolved_at.is_not(None),
        Case.deadline.is_not(None),
        Case.resolved_at > Case.deadline,
    )
    open_late = and_(
        Case.resolved_at.is_(None),
        Case.status.in_(OPEN_STATUSES),
        Case.deadline.is_not(None),
        Case.deadline < now,
    )
    return or_(by_clock, late, open_late)


def settled_at_home_condition(table: MatterTable) -> ColumnElement[bool]:
    by_home: dict[str, list[str]] = defaultdict(list)
    for matter in table:
        by_home[matter.home_level].append(matter.id)
    at_home = or_(
        *(and_(Case.matter_id.in_(ids), Case.level == level) for level, ids in by_home.items())
    )
    return and_(resolved_condition(), Case.escalations == 0, at_home)


def hours_to_resolve(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", Case.resolved_at - Case.created_at) / 3600.0
    return (func.julianday(Case.resolved_at) - func.julianday(Case.created_at)) * 24.0


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


# -- results --------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Figures:
    """Counts and sums for a group of cases; the rates are derived, never stored."""

    cases: int = 0
    resolved: int = 0
    on_time: int = 0
    overdue: int = 0
    rated: int = 0
    satisfied: int = 0
    settled_at_home: int = 0
    escalated_cases: int = 0
    escalations: int = 0
    reopened: int = 0
    hours_total: float = 0.0
    score_total: float = 0.0
    by_status: Counter[str] = field(default_factory=Counter)
    by_level: Counter[str] = field(default_factory=Counter)
    by_matter: Counter[str] = field(default_factory=Counter)

    def add(self, other: Figures) -> None:
        for name in (
            "cases",
            "resolved",
            "on_time",
            "overdue",
            "rated",
            "satisfied",
            "settled_at_home",
            "escalated_cases",
            "escalations",
            "reopened",
            "hours_total",
            "score_total",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_status.update(other.by_status)
        self.by_level.update(other.by_level)
        self.by_matter.update(other.by_matter)

    @property
    def open(self) -> int:
        return sum(self.by_status[s] for s in OPEN_STATUSES)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.resolved)

    @property
    def home_level_rate(self) -> float | None:
        return _rate(self.settled_at_home, self.resolved)

    @property
    def satisfied_share(self) -> float | None:
        return _rate(self.satisfied, self.rated)

    @property
    def satisfaction_score(self) -> float | None:
        return round(self.score_total / self.rated, 1) if self.rated else None

    @property
    def avg_hours_to_resolve(self) -> float | None:
        return round(self.hours_total / self.resolved, 1) if self.resolved else None

    def as_dict(self, *, breakdowns: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "cases": self.cases,
            "open": self.open,
            "resolved": self.resolved,
            "on_time": self.on_time,
            "on_time_rate": self.on_time_rate,
            "overdue": self.overdue,
            "avg_hours_to_resolve": self.avg_hours_to_resolve,
            "rated": self.rated,
            "satisfied": self.satisfied,
            "satisfied_share": self.satisfied_share,
            "satisfaction_score": self.satisfaction_score,
            "settled_at_home": self.settled_at_home,
            "home_level_rate": self.home_level_rate,
            "escalated_cases": self.escalated_cases,
            "escalations": self.escalations,
            "reopened": self.reopened,
        }
        if breakdowns:
            data["by_status"] = dict(self.by_status.most_common())
            data["by_level"] = dict(self.by_level.most_common())
            data["by_matter"] = dict(self.by_matter.most_common())
        return data


@dataclass
class MonthFigures:
    month: str  # "2026-03"
    compound: str  # compound code
    figures: Figures


@dataclass
class HandlerFigures:
    user_id: int
    name: str
    compound: str
    roles: list[str]
    figures: Figures

    def as_dict(self) -> dict[str, Any]:
        f = self.figures
        return {
            "user_id": self.user_id,
            "name": self.name,
            "compound": self.compound,
            "roles": self.roles,
            "cases_led": f.cases,
            "resolved": f.resolved,
            "on_time": f.on_time,
            "on_time_rate": f.on_time_rate,
            "overdue": f.overdue,
            "avg_hours_to_resolve": f.avg_hours_to_resolve,
            "rated": f.rated,
            "satisfied": f.satisfied,
            "satisfied_share": f.satisfied_share,
            "satisfaction_score": f.satisfaction_score,
            "reopened": f.reopened,
        }


@dataclass
class Statistics:
    period: Period
    months: list[MonthFigures]
    handlers: list[HandlerFigures]
    generated_at: datetime

    @property
    def compounds(self) -> list[str]:
        return sorted({m.compound for m in self.months})

    @property
    def total(self) -> Figures:
        total = Figures()
        for row in self.months:
            total.add(row.figures)
        return total

    def month_totals(self) -> list[tuple[str, Figures]]:
        """All compounds together, month by month (what the charts draw)."""
        merged: dict[str, Figures] = {}
        for row in self.months:
            merged.setdefault(row.month, Figures()).add(row.figures)
        return sorted(merged.items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.as_dict(),
            "generated_at": self.generated_at.isoformat(),
            "compounds": self.compounds,
            "total": self.total.as_dict(),
            "months": [
                {"month": m.month, "compound": m.compound, **m.figures.as_dict()}
                for m in self.months
            ],
            "handlers": [h.as_dict() for h in self.handlers],
        }


# -- the computation ----------------------------------------------------------------


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_labels(first: date, last: date) -> list[str]:
    labels = []
    day = first.replace(day=1)
    while day <= last:
        labels.append(f"{day.year:04d}-{day.month:02d}")
        day = _next_month(day)
    return labels


async def _bounds(session: AsyncSession, period: Period, scope: Scope) -> tuple[date, date] | None:
    """The months to report: the period's, or those the ledger spans when it is open."""
    if period.first is not None and period.last is not None:
        return period.first, period.last
    low, high = (
        await session.execute(
            select(func.min(Case.created_at), func.max(Case.created_at)).where(
                *case_filter(period, scope)
            )
        )
    ).one()
    if low is None or high is None:
        if period.first is None and period.last is None:
            return None
        only = period.first or period.last
        assert only is not None
        return only, only
    zone = ZoneInfo(period.timezone)
    first = period.first or _as_utc(low).astimezone(zone).date()
    last = period.last or _as_utc(high).astimezone(zone).date()
    return first, last


def _as_utc(value: datetime | str) -> datetime:
    """min()/max() skip the column type on SQLite and come back as text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _month_case(labels: list[str], timezone: str) -> ColumnElement[str]:
    zone = ZoneInfo(timezone)
    whens = []
    for label in labels[:-1]:
        year, month = (int(p) for p in label.split("-"))
        following = _next_month(date(year, month, 1))
        boundary = datetime(following.year, following.month, 1, tzinfo=zone).astimezone(UTC)
        whens.append((Case.created_at < boundary, label))
    if not whens:
        return literal(labels[-1], type_=String)
    return case(*whens, else_=literal(labels[-1], type_=String))


def _facts(labels: list[str], period: Period, scope: Scope, now: datetime, dialect: str) -> Any:
    resolved = resolved_condition()
    overdue = overdue_condition(now)
    scores = case(SATISFACTION_SCORES, value=Case.satisfaction, else_=None)
    return (
        select(
            _month_case(labels, period.timezone).label("month"),
            Case.compound_id.label("compound_id"),
            Case.lead_id.label("lead_id"),
            Case.status.label("status"),
            Case.level.label("level"),
            Case.matter_id.label("matter_id"),
            _flag(resolved).label("resolved"),
            _flag(and_(resolved, ~overdue)).label("on_time"),
            _flag(overdue).label("overdue"),
            case((resolved, hours_to_resolve(dialect)), else_=None).label("hours"),
            _flag(Case.satisfaction.is_not(None)).label("rated"),
            _flag(Case.satisfaction == "satisfied").label("satisfied"),
            scores.label("score"),
            _flag(settled_at_home_condition(load_matters())).label("settled"),
            _flag(Case.escalations > 0).label("escalated"),
            Case.escalations.label("escalations"),
            _flag(Case.reopens > 0).label("reopened"),
        )
        .where(*case_filter(period, scope))
        .subquery("facts")
    )


def _sums(facts: Any) -> list[Any]:
    c = facts.c
    return [
        func.count().label("cases"),
        func.sum(c.resolved).label("resolved"),
        func.sum(c.on_time).label("on_time"),
        func.sum(c.overdue).label("overdue"),
        func.sum(c.hours).label("hours"),
        func.sum(c.rated).label("rated"),
        func.sum(c.satisfied).label("satisfied"),
        func.sum(c.score).label("score"),
        func.sum(c.settled).label("settled"),
        func.sum(c.escalated).label("escalated"),
        func.sum(c.escalations).label("escalations"),
        func.sum(c.reopened).label("reopened"),
    ]


def _figures(row: Any) -> Figures:
    return Figures(
        cases=int(row.cases),
        resolved=int(row.resolved or 0),
        on_time=int(row.on_time or 0),
        overdue=int(row.overdue or 0),
        hours_total=float(row.hours or 0.0),
        rated=int(row.rated or 0),
        satisfied=int(row.satisfied or 0),
        score_total=float(row.score or 0.0),
        settled_at_home=int(row.settled or 0),
        escalated_cases=int(row.escalated or 0),
        escalations=int(row.escalations or 0),
        reopened=int(row.reopened or 0),
    )


async def compute_statistics(
    session: AsyncSession,
    period: Period,
    scope: Scope | None = None,
    *,
    now: datetime,
) -> Statistics:
    scope = scope or Scope()
    codes = dict((await session.execute(select(Compound.id, Compound.code))).tuples().all())
    bounds = await _bounds(session, period, scope)
    if bounds is None:
        return Statistics(period, [], [], now)
    labels = month_labels(*bounds)
    dialect = session.get_bind().dialect.name
    facts = _facts(labels, period, scope, now, dialect)
    c = facts.c

    months: dict[tuple[str, int], Figures] = {}
    for compound_id in scope.compound_ids:
        for label in labels:
            months[(label, compound_id)] = Figures()
    rows = await session.execute(
        select(c.month, c.compound_id, c.status, c.level, c.matter_id, *_sums(facts)).group_by(
            c.month, c.compound_id, c.status, c.level, c.matter_id
        )
    )
    for row in rows:
        figures = _figures(row)
        figures.by_status[row.status] += row.cases
        figures.by_level[row.level] += row.cases
        figures.by_matter[row.matter_id] += row.cases
        for label in labels:  # every month of a compound that has cases, zero or not
            months.setdefault((label, row.compound_id), Figures())
        months[(row.month, row.compound_id)].add(figures)
    month_rows = [
        MonthFigures(label, codes.get(compound_id, str(compound_id)), figures)
        for (label, compound_id), figures in sorted(
            months.items(), key=lambda item: (item[0][0], codes.get(item[0][1], ""))
        )
    ]

    handler_rows = (
        await session.execute(
            select(c.compound_id, c.lead_id, *_sums(facts))
            .where(c.lead_id.is_not(None))
            .group_by(c.compound_id, c.lead_id)
        )
    ).all()
    lead_ids = sorted({row.lead_id for row in handler_rows})
    names = dict(
        (await session.execute(select(User.id, User.name).where(User.id.in_(lead_ids))))
        .tuples()
        .all()
    )
    roles: dict[int, list[str]] = defaultdict(list)
    grants = await session.execute(
        select(RoleGrant.user_id, RoleGrant.role)
        .where(RoleGrant.user_id.in_(lead_ids))
        .order_by(RoleGrant.id)
    )
    for user_id, role in grants.tuples():
        if role not in roles[user_id]:
            roles[user_id].append(role)
    handlers = [
        HandlerFigures(
            user_id=row.lead_id,
            name=names.get(row.lead_id, ""),
            compound=codes.get(row.compound_id, str(row.compound_id)),
            roles=roles.get(row.lead_id, []),
            figures=_figures(row),
        )
        for row in handler_rows
    ]
    handlers.sort(key=lambda h: (h.compound, -h.figures.cases, h.name, h.user_id))
    return Statistics(period, month_rows, handlers, now)
