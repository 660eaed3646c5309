"""Process-wide exclusive locks: one holder at a time, the next one after a release.

That a killed holder's lock passes to a standby is tested with real processes in
``tests/bot/test_scale_out.py``."""

from __future__ import annotations

from bot.storage.db import Database
from bot.storage.exclusive import exclusive_lock, lock_key


async def test_only_one_holder_at_a_time_and_the_next_takes_over_on_release(
    db: Database,
) -> None:
    other = Database(db.url, search_path=db.search_path)  # another process's connections
    try:
        mine, theirs = exclusive_lock(db, "scheduler"), exclusive_lock(other, "scheduler")
        assert await mine.try_acquire()
        assert await mine.try_acquire()  # asking again while holding it is a yes
        assert not await theirs.try_acquire()
        assert await mine.still_held()
        polling = exclusive_lock(other, "telegram-polling")
        assert await polling.try_acquire()  # another name, another lock
        await polling.release()
        await mine.release()
        assert not await mine.still_held()
        assert await theirs.try_acquire()
        assert not await mine.try_acquire()
        await theirs.release()
    finally:
        await other.dispose()


def test_lock_keys_differ_by_name_and_schema_and_fit_a_bigint() -> None:
    keys = {lock_key("scheduler"), lock_key("scheduler", "test_a"), lock_key("polling")}
    assert len(keys) == 3
    assert all(-(2**63) <= k < 2**63 for k in keys)
