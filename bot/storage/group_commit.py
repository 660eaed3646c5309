"""Group commit: updates that arrive while a transaction is running share the next one.

A database commit costs the same for one update as for fifty, and on SQLite every
transaction queues for the one writer anyway. So the dispatcher does not open a
transaction per update: the first update starts a batch at once (no added latency when
the bot is quiet), and whatever arrives while that batch runs is handled together in
the following one. Under load the batch grows by itself; nothing waits on a timer.

Usage::

    batches = GroupCommit(run_batch, max_batch=64)
    result = await batches.submit(item)   # run_batch(take) sees item in some batch

``run`` is given ``take``, which hands over the waiting items. It calls ``take`` once,
as late as it can (after acquiring the write lock), so items that arrive while it waits
for the lock still join this batch. It returns one result per item, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[Callable[[], list[T]]], Awaitable[list[R]]],
        *,
        max_batch: int = 64,
    ) -> None:
        self._run = run
        self.max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._taken: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches ran, and how many items they held: the
        self.items = 0  # average batch size is what group commit buys (metrics, bench)

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        return await future

    def _take(self) -> list[T]:
        self._taken = self._waiting[: self.max_batch]
        del self._waiting[: self.max_batch]
        self.batches += 1
        self.items += len(self._taken)
        return [item for item, _ in self._taken]

    async def _drain(self) -> None:
        while self._waiting:
            self._taken = []
            try:
                results = await self._run(self._take)
                if len(results) != len(self._taken):
                    raise RuntimeError("a batch must return one result per item")
            except asyncio.CancelledError:  # shutting down: every caller hears of it
                for _, future in (*self._taken, *self._waiting):
                    future.cancel()
                self._taken, self._waiting = [], []
                raise
            except Exception as exc:  # told to every caller of the batch
                # Failing before ``take``: the waiting items would only fail again.
                failed = self._taken or self._waiting
                if not self._taken:
                    self._waiting = []
                for _, future in failed:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(self._taken, results, strict=True):
                if not future.done():  # its caller may have been cancelled meanwhile
                    future.set_result(result)
