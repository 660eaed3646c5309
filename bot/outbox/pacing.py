"""Send rates per channel: what keeps a 10,000-recipient broadcast under the platform's
limits without starving the replies residents are waiting for.

Telegram allows about 30 messages a second per bot, about one a second per chat, and
answers ``429 retry_after`` when pushed past either. The pacer keeps each channel
under its configured global rate (a leaky bucket from ``aiolimiter`` one message deep:
messages leave at most one per 1/rate seconds, so no one-second window sees more than
the configured rate — a burst allowance would put the busiest second above it), spaces
bulk messages to the same chat by the per-chat interval, and holds a
whole channel after a 429 for as long as the platform asked.

Interactive messages (replies, case notifications) go through the same bucket — the
platform counts them too — but the bulk lane has few senders in flight, so a reply
waits at most for those few, never for the broadcast's queue. They are exempt from the
per-chat spacing: they answer the resident's own message and are paced by the
resident.

The channel bucket is pluggable: by default each process has its own (``LocalBucket``);
with Redis configured, ``bot/outbox/shared_rate.py`` gives every process a handle on one
bucket per channel, so N delivery workers together stay under the platform's limit. The
per-chat spacing and 429 holds stay per process: a chat's bulk rows are sent one at a
time anyway (the claim never hands out a chat's next row before the previous settled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiolimiter import AsyncLimiter

BURST_SECONDS = 0.0  # the bucket's depth beyond one message, in seconds of the rate
CHAT_MEMORY = 50_000  # per-chat send times kept before old ones are forgotten
LONG_WAIT = 0.5  # seconds: a wait the worker hears about first (see ``acquire``)


@dataclass(frozen=True)
class ChannelRate:
    """``per_second`` for the whole channel (None: unlimited); ``chat_interval`` seconds
    between two bulk messages to one chat (0: no spacing)."""

    per_second: float | None = None
    chat_interval: float = 0.0


Sleep = Callable[[float], Awaitable[None]]


class Bucket(Protocol):
    """A channel's global rate: ``take`` returns when one message may go out. A bucket
    that knows its wait in advance sleeps through ``sleep`` (which tells the worker about
    long waits first)."""

    async def take(self, sleep: Sleep) -> None: ...


BucketFactory = Callable[[str, float], Bucket]  # (channel, messages per second) -> bucket


def bucket_depth(per_second: float) -> float:
    """Messages that may go out at once after a quiet spell: one, so the limit holds in
    every one-second window (``BURST_SECONDS`` would allow more)."""
    return max(1.0, per_second * BURST_SECONDS)


class LocalBucket:
    """This process's own bucket (aiolimiter): right when one process sends."""

    def __init__(self, per_second: float) -> None:
        depth = bucket_depth(per_second)
        self._limiter = AsyncLimiter(depth, depth / per_second)

    async def take(self, sleep: Sleep) -> None:
        await self._limiter.acquire()


def local_bucket(channel: str, per_second: float) -> Bucket:
    return LocalBucket(per_second)


class Pacer:
    def __init__(
        self,
        rates: Mapping[str, ChannelRate] | None = None,
        *,
        bucket: BucketFactory = local_bucket,
    ) -> None:
        self.rates = dict(rates or {})
        self._buckets: dict[str, Bucket] = {}
        for channel, rate in self.rates.items():
            if rate.per_second:
                self._buckets[channel] = bucket(channel, rate.per_second)
        self._held_until: dict[str, float] = {}
        self._chat_next: dict[tuple[str, str], float] = {}

    async def acquire(
        self,
        channel: str,
        chat_id: str,
        *,
        bulk: bool,
        before_long_wait: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Wait until one message to ``chat_id`` may go out on ``channel``.

        ``before_long_wait`` runs once before a wait of more than ``LONG_WAIT`` seconds
        (a 429 hold, a chat's spacing): the worker records what it has sent so far, so
        its lease running out during the wait cannot make another worker send it again.
        """
        loop = asyncio.get_running_loop()
        rate = self.rates.get(channel)
        warned = False

        async def sleep(seconds: float) -> None:
            nonlocal warned
            if seconds > LONG_WAIT and before_long_wait is not None and not warned:
                warned = True
                await before_long_wait()
            await asyncio.sleep(seconds)

        if bulk and rate is not None and rate.chat_interval > 0:
            key = (channel, chat_id)
            now = loop.time()
            start = max(now, self._chat_next.get(key, 0.0))
            self._chat_next[key] = start + rate.chat_interval
            if len(self._chat_next) > CHAT_MEMORY:
                self._forget(now)
            if start > now:
                await sleep(start - now)
        while (held := self._held_until.get(channel, 0.0) - loop.time()) > 0:
            await sleep(held)
        bucket = self._buckets.get(channel)
        if bucket is not None:
            await bucket.take(sleep)
        if bulk and rate is not None and rate.chat_interval > 0:
            # Held up by a 429 or the bucket: the next one to this chat counts from now.
            key = (channel, chat_id)
            self._chat_next[key] = max(
                self._chat_next.get(key, 0.0), loop.time() + rate.chat_interval
            )

    def hold(self, channel: str, seconds: float) -> None:
        """The platform said 429: nothing more on ``channel`` for ``seconds``."""
        until = asyncio.get_running_loop().time() + seconds
        self._held_until[channel] = max(self._held_until.get(channel, 0.0), until)

    def _forget(self, now: float) -> None:
        for key in [k for k, t in self._chat_next.items() if t <= now]:
            del self._chat_next[key]
