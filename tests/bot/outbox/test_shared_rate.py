"""The send rate shared through Redis: one bucket for every process, and no send lost
when Redis is away."""

from __future__ import annotations

import asyncio
import uuid

from bot.outbox.pacing import ChannelRate, Pacer, bucket_depth
from bot.outbox.shared_rate import RedisRates


async def test_two_pacers_on_one_redis_bucket_share_its_rate(redis_url: str) -> None:
    prefix = f"linli-test-{uuid.uuid4().hex[:8]}:"
    rate, each = 50.0, 30
    ours, theirs = (
        RedisRates.from_url(redis_url, prefix=prefix),
        RedisRates.from_url(redis_url, prefix=prefix),
    )
    try:
        pacers = [Pacer({"telegram": ChannelRate(rate)}, bucket=r.bucket) for r in (ours, theirs)]
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(
            *(p.acquire("telegram", f"chat-{i}", bulk=False) for p in pacers for i in range(each))
        )
        elapsed = loop.time() - start
    finally:
        await ours.close()
        await theirs.close()
    # Together, not each: 60 messages at 50/s after the burst take at least this long.
    assert elapsed >= (2 * each - bucket_depth(rate)) / rate - 0.05


async def test_pacing_falls_back_to_the_local_bucket_when_redis_is_unreachable() -> None:
    rates = RedisRates.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        pacer = Pacer({"telegram": ChannelRate(100)}, bucket=rates.bucket)
        await asyncio.wait_for(pacer.acquire("telegram", "chat-1", bulk=False), timeout=10)
    finally:
        await rates.close()
