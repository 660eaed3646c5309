"""The scheduler's jobs, each one transaction over the cases that are due.

Cases are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and every job holds a
transaction-scoped advisory lock, so two scheduler processes never escalate the same
case twice; on SQLite the single writer gives the same guarantee. The clock is passed
in, so tests run a whole escalation ladder in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.buttons import ButtonSigner
from bot.core.catalog import Catalog
from bot.core.context import CoreConfig
from bot.outbox.enqueue import OutboxWriter
from bot.storage.db import Database
from bot.storage.models import OPEN_STATUSES, Case, CaseStatus
from handlers.broadcasts import BroadcastService, due_broadcasts, sending_broadcasts
from handlers.case_service import CaseService

BATCH = 200
BROADCASTS_PER_ROUND = 20
AUTO_CLOSE_AFTER = timedelta(days=3)
REMIND_AT = 0.25  # remind when a quarter of the level's time is left
_LOCK_KEY = 0x4C494E4C49  # "LINLI"


@dataclass
class JobReport:
    escalated: int = 0
    reminded: int = 0
    closed: int = 0
    broadcasts_started: int = 0
    broadcasts_finished: int = 0

    @property
    def total(self) -> int:
        return (
            self.escalated
            + self.reminded
            + self.closed
            + self.broadcasts_started
            + self.broadcasts_finished
        )


class Jobs:
    def __init__(
        self,
        db: Database,
        signer: ButtonSigner,
        catalog: Catalog,
        config: CoreConfig,
        *,
        on_report: Callable[[JobReport], None] | None = None,
    ) -> None:
        self.db = db
        self.signer = signer
        self.catalog = catalog
        self.config = config
        self.on_report = on_report  # told what each round did: metrics

    async def run_all(self, now: datetime) -> JobReport:
        report = JobReport()
        report.escalated = await self.escalate_overdue(now)
        report.reminded = await self.remind_before_deadline(now)
        report.closed = await self.close_unrated(now)
        report.broadcasts_started = await self.start_broadcasts(now)
        report.broadcasts_finished = await self.finish_broadcasts(now)
        if self.on_report is not None:
            self.on_report(report)
        return report

    async def start_broadcasts(self, now: datetime) -> int:
        """Scheduled broadcasts whose time has come: each expands into its outbox rows
        in its own transaction, so one huge broadcast does not hold the others."""
        started = 0
        for _ in range(BROADCASTS_PER_ROUND):
            async with self.db.transaction() as session:
                if not await self._lock(session):
                    return started
                due = await due_broadcasts(session, now, limit=1)
                if not due:
                    return started
                await self._broadcasts(session, now).start(due[0])
                started += 1
        return started

    async def finish_broadcasts(self, now: datetime) -> int:
        """Broadcasts whose every row has settled: marked done, the sender told."""
        async with self.db.transaction() as session:
            if not await self._lock(session):
                return 0
            service = self._broadcasts(session, now)
            finished = 0
            for broadcast in await sending_broadcasts(session, limit=BATCH):
                finished += await service.finish_if_settled(broadcast)
            return finished

    def _broadcasts(self, session: AsyncSession, now: datetime) -> BroadcastService:
        return BroadcastService(session, OutboxWriter(session, self.signer), self.catalog, now)

    async def escalate_overdue(self, now: datetime) -> int:
        query = select(Case).where(Case.status.in_(OPEN_STATUSES), Case.deadline <= now)
        async with self.db.transaction() as session:
            if not await self._lock(session):
                return 0
            service = self._service(session, now)
            cases = await self._claim(session, query.order_by(Case.deadline))
            for case in cases:
                await service.escalate(case, actor_id=None, reason="sla")
            return len(cases)

    async def remind_before_deadline(self, now: datetime) -> int:
        query = select(Case).where(
            Case.status.in_(OPEN_STATUSES), Case.reminded_at.is_(None), Case.deadline > now
        )
        reminded = 0
        async with self.db.transaction() as session:
            if not await self._lock(session):
                return 0
            service = self._service(session, now)
            for case in await self._claim(session, query.order_by(Case.deadline)):
                matter = service.table.matters.get(case.matter_id)
                if matter is None or case.deadline is None:
                    continue
                hours = matter.rule(case.level).sla_hours * self.config.sla_scale
                if case.deadline - now <= timedelta(hours=hours * REMIND_AT):
                    await service.remind(case)
                    reminded += 1
            return reminded

    async def close_unrated(self, now: datetime) -> int:
        cutoff = now - AUTO_CLOSE_AFTER * self.config.sla_scale
        query = select(Case).where(Case.status == CaseStatus.RESOLVED, Case.resolved_at <= cutoff)
        async with self.db.transaction() as session:
            if not await self._lock(session):
                return 0
            service = self._service(session, now)
            cases = await self._claim(session, query.order_by(Case.resolved_at))
            for case in cases:
                await service.close(case, actor_id=None, reason="not_rated")
            return len(cases)

    def _service(self, session: AsyncSession, now: datetime) -> CaseService:
        return CaseService(
            session, OutboxWriter(session, self.signer), self.catalog, now, self.config
        )

    async def _claim(self, session: AsyncSession, query: Select[tuple[Case]]) -> list[Case]:
        query = query.limit(BATCH)
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list((await session.scalars(query)).all())

    async def _lock(self, session: AsyncSession) -> bool:
        """One scheduler at a time across processes (PostgreSQL advisory lock)."""
        if self.db.dialect != "postgresql":
            return True
        return bool(
            await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        )
