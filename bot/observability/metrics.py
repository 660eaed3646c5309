"""Prometheus metrics of one running App, served as text on ``GET /metrics``.

Why a registry per App rather than prometheus-client's global one: tests (and the
benchmarks) create several apps in one process, and the global registry refuses a
second metric of the same name. Each ``Metrics`` owns its ``CollectorRegistry``.

Two kinds of figures:

- counters and a histogram moved by the code as things happen — updates handled by the
  dispatcher (by channel and outcome) and how long each took, messages settled by the
  delivery worker (by channel and result), escalations, reminders and automatic closes
  by the scheduler. They are per process: Prometheus sums them over the processes.
- gauges read from the database when Prometheus scrapes — the outbox queue (depth and
  age of the oldest unsent row, by channel and lane) and open cases by compound. They
  describe the shared database, so every process reports the same values; aggregate
  them with ``max``, not ``sum``. Prometheus collectors are synchronous and our database
  is async, so the scrape first ``refresh``-es a snapshot (three indexed aggregate
  queries in one read-only transaction, under a timeout) and a custom collector yields
  it. When the database does not answer, the last values are dropped and
  ``linli_database_up`` says 0.

Usage::

    metrics = Metrics(db)
    dispatcher = Dispatcher(..., observe=metrics.observe_update)
    body = await metrics.exposition()        # what GET /metrics answers
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from bot.channels.base import Rejected, RetryAfter, SendResult, Sent, TransientFailure, Unreachable
from bot.outbox.worker import Lane
from bot.scheduler.jobs import JobReport
from bot.storage.db import Database
from bot.storage.models import (
    OPEN_STATUSES,
    Case,
    Compound,
    OutboxMessage,
    OutboxStatus,
    Priority,
    utcnow,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# One update is one transaction: milliseconds on an idle PostgreSQL, up to seconds when
# SQLite's single writer has a queue (README's benchmark figures).
HANDLE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def send_result_label(result: SendResult) -> str:
    """The ``result`` label of a settled send: what the platform answered."""
    match result:
        case Sent():
            return "sent"
        case Unreachable():
            return "unreachable"  # 403: blocked the bot, chat gone
        case RetryAfter():
            return "rate_limited"  # 429 retry_after
        case TransientFailure():
            return "transient"  # network, 5xx: retried with backoff
        case Rejected():
            return "rejected"  # 400: permanent, never retried
    return "unknown"


class Metrics:
    """The App's counters, histogram and database gauges, in its own registry."""

    def __init__(
        self,
        db: Database,
        *,
        channels: Iterable[str] = (),
        scrape_timeout_seconds: float = 2.0,
    ) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "linli_updates",
            "Incoming updates handled by the core dispatcher, by channel and outcome "
            "(ok, duplicate: a redelivery, failed: a handler raised and the user got an "
            "apology, error: the database failed and the update was not stored)",
            ("channel", "outcome"),
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "linli_update_handle_seconds",
            "Time to handle one incoming update in the core dispatcher, waiting for the "
            "conversation's lock included",
            ("channel",),
            buckets=HANDLE_BUCKETS,
            registry=self.registry,
        )
        self.outbox_results = Counter(
            "linli_outbox_messages",
            "Sends settled by the delivery worker, by channel and result (sent, "
            "unreachable, rate_limited, transient, rejected)",
            ("channel", "result"),
            registry=self.registry,
        )
        self.escalations = Counter(
            "linli_escalations",
            "Overdue cases escalated by the scheduler's SLA sweep",
            registry=self.registry,
        )
        self.reminders = Counter(
            "linli_reminders",
            "Reminders sent by the scheduler before a case's deadline",
            registry=self.registry,
        )
        self.auto_closed = Counter(
            "linli_cases_auto_closed",
            "Resolved cases closed by the scheduler because the reporter did not rate them",
            registry=self.registry,
        )
        self.database = DatabaseGauges(
            db, channels=channels, timeout_seconds=scrape_timeout_seconds
        )
        self.registry.register(self.database)

    # -- hooks: plain callables handed to the dispatcher, the worker, the scheduler ----
    def observe_update(self, channel: str, outcome: str, seconds: float) -> None:
        self.updates.labels(channel, outcome).inc()
        self.handle_seconds.labels(channel).observe(seconds)

    def observe_send(self, channel: str, result: SendResult) -> None:
        self.outbox_results.labels(channel, send_result_label(result)).inc()

    def observe_jobs(self, report: JobReport) -> None:
        self.escalations.inc(report.escalated)
        self.reminders.inc(report.reminded)
        self.auto_closed.inc(report.closed)

    async def exposition(self) -> bytes:
        """The text Prometheus scrapes, with the database gauges read just now."""
        await self.database.refresh()
        return generate_latest(self.registry)


@dataclass(frozen=True, order=True)
class QueueRow:
    channel: str
    lane: str
    depth: int
    oldest_age_seconds: float


@dataclass(frozen=True)
class DatabaseSnapshot:
    up: bool = False
    queue: list[QueueRow] = field(default_factory=list)
    open_cases: dict[str, int] = field(default_factory=dict)


class DatabaseGauges(Collector):
    """Gauges read from the database at scrape time (see the module docstring).

    The queue of each of ``channels`` is reported in both lanes even when empty, so an
    alert on depth or age sees 0 rather than no series at all."""

    def __init__(
        self, db: Database, *, channels: Iterable[str] = (), timeout_seconds: float = 2.0
    ) -> None:
        self.db = db
        self.channels = tuple(channels)
        self.timeout = timeout_seconds
        self.snapshot = DatabaseSnapshot()

    async def refresh(self) -> None:
        try:
            self.snapshot = await asyncio.wait_for(self._read(utcnow()), self.timeout)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even then
            log.warning("metrics: database gauges not read: %s", type(exc).__name__)
            self.snapshot = DatabaseSnapshot(up=False)

    async def _read(self, now: datetime) -> DatabaseSnapshot:
        lane = case(
            (OutboxMessage.priority <= Priority.INTERACTIVE, Lane.INTERACTIVE.value),
            else_=Lane.BULK.value,
        ).label("lane")
        queue_query = (
            select(
                OutboxMessage.channel,
                lane,
                func.count(),
                func.min(OutboxMessage.created_at),
            )
            .where(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
            .group_by(OutboxMessage.channel, lane)
        )
        open_query = (
            select(Compound.code, func.count(Case.id))
            .select_from(Compound)
            .outerjoin(Case, (Case.compound_id == Compound.id) & Case.status.in_(OPEN_STATUSES))
            .group_by(Compound.code)
        )
        queue = {
            (channel, lane.value): QueueRow(channel, lane.value, 0, 0.0)
            for channel in self.channels
            for lane in Lane
        }
        async with self.db.snapshot() as session:
            for channel, lane_name, depth, oldest in await session.execute(queue_query):
                age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
                queue[channel, lane_name] = QueueRow(channel, lane_name, depth, age)
            open_cases = {code: count for code, count in await session.execute(open_query)}
        return DatabaseSnapshot(up=True, queue=sorted(queue.values()), open_cases=open_cases)

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        up = GaugeMetricFamily(
            "linli_database_up", "1 when the database answered this scrape's queries"
        )
        up.add_metric([], 1.0 if snap.up else 0.0)
        yield up
        depth = GaugeMetricFamily(
            "linli_outbox_queue_depth",
            "Outbox rows not yet sent (pending or being sent), by channel and lane",
            labels=("channel", "lane"),
        )
        age = GaugeMetricFamily(
            "linli_outbox_oldest_unsent_age_seconds",
            "Age of the oldest outbox row not yet sent, by channel and lane",
            labels=("channel", "lane"),
        )
        for row in snap.queue:
            depth.add_metric([row.channel, row.lane], float(row.depth))
            age.add_metric([row.channel, row.lane], row.oldest_age_seconds)
        yield depth
        yield age
        cases = GaugeMetricFamily(
            "linli_open_cases",
            "Cases not yet resolved or closed, by compound code",
            labels=("compound",),
        )
        for code, count in sorted(snap.open_cases.items()):
            cases.add_metric([code], float(count))
        yield cases
