"""A channel's send rate shared by every delivery process, kept in Redis.

Each process's own bucket (``pacing.LocalBucket``) lets N processes send N times the
platform's limit. Here one bucket per channel lives in Redis as a single number, the
GCRA "theoretical arrival time", and one Lua script takes a slot atomically when one is
free now, or says how long until one may be. A slot is only ever taken at the moment of
sending: reserving slots ahead (one round trip, no retries) was tried and let a process
that woke late — its CPU shared with others — send a backlog of past slots at once, a
second of 49 messages against a shared 40/s. Time is Redis's own (``TIME``), so the
processes' clocks need not agree.

The bucket has the same shape as the local one (``pacing.bucket_depth``): ``per_second``
steady and no burst, so no one-second window sees more than the rate, across all
processes together.

If Redis cannot be reached, a message is never held back or lost for it: the bucket
falls back to this process's own (logged), and the platform's 429 answers cover the rest.

Usage::

    rates = RedisRates(Redis.from_url("redis://127.0.0.1:6379/0"), prefix="linli:")
    pacer = Pacer({"telegram": ChannelRate(25)}, bucket=rates.bucket)
    ...
    await rates.close()
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from bot.outbox.pacing import Bucket, LocalBucket, Sleep, bucket_depth

log = logging.getLogger(__name__)

# KEYS[1]: the bucket; ARGV[1]: microseconds between messages; ARGV[2]: how far ahead of
# the steady schedule a message may go (the burst), in microseconds.
# Returns 0 when the caller may send now (the slot is taken), else the microseconds to
# wait before asking again. Nothing is reserved ahead: a process that wakes late (a
# busy CPU, a long pause) asks again rather than sending on a slot that has passed, so
# late senders never bunch up above the rate.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
           'PX', math.ceil((next_tat - now) / 1000) + 1000)
return 0
"""
FALLBACK_WARN_SECONDS = 30.0
POOL_SIZE = 8


class RedisRates:
    """One Redis connection pool for every channel's shared bucket of this process."""

    def __init__(self, client: Redis, *, prefix: str = "linli:") -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(RESERVE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "linli:") -> RedisRates:
        # A few connections, waited for rather than refused when a bulk round asks for
        # many slots at once; short timeouts, as an outage falls back to the local bucket.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=2.0,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
        return cls(Redis.from_pool(pool), prefix=prefix)

    def bucket(self, channel: str, per_second: float) -> Bucket:
        """The ``Pacer``'s bucket factory."""
        return RedisBucket(self, f"{self.prefix}rate:{channel}", per_second)

    async def reserve(self, key: str, interval_us: int, tolerance_us: int) -> float:
        """Take a slot of ``key`` now (0.0), or learn how many seconds until one may be
        free (nothing taken: ask again then)."""
        waited = await self._reserve(keys=[key], args=[interval_us, tolerance_us])
        return int(waited) / 1_000_000

    async def close(self) -> None:
        await self.client.aclose()


class RedisBucket:
    """A channel's bucket shared through Redis, with this process's own as a fallback."""

    def __init__(self, rates: RedisRates, key: str, per_second: float) -> None:
        self.rates = rates
        self.key = key
        self.interval_us = round(1_000_000 / per_second)
        self.tolerance_us = round((bucket_depth(per_second) - 1) * self.interval_us)
        self._fallback = LocalBucket(per_second)
        self._warned_at = float("-inf")

    async def take(self, sleep: Sleep) -> None:
        while True:
            try:
                wait = await self.rates.reserve(self.key, self.interval_us, self.tolerance_us)
            except (RedisError, OSError) as exc:
                if time.monotonic() - self._warned_at > FALLBACK_WARN_SECONDS:
                    self._warned_at = time.monotonic()
                    log.warning("shared send rate unavailable (%s); pacing this process alone", exc)
                await self._fallback.take(sleep)
                return
            if wait <= 0:
                return
            await sleep(wait)
