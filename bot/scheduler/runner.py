"""The scheduler loop: run the jobs every interval until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.scheduler.jobs import Jobs
from bot.storage.models import utcnow

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        jobs: Jobs,
        interval_seconds: float,
        *,
        clock: Callable[[], datetime] = utcnow,
        on_work: Callable[[], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self.interval = interval_seconds
        self.clock = clock
        self.on_work = on_work

    async def tick(self) -> int:
        report = await self.jobs.run_all(self.clock())
        if report.total:
            log.info("scheduler: %s", report)
            if self.on_work is not None:
                self.on_work()
        return report.total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler round failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass
