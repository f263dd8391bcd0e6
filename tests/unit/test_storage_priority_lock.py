"""The database lock: durable writes (what the portal and users wait on) go first."""

from __future__ import annotations

import asyncio

import pytest

from bot.storage.db import PriorityLock


async def _hold(lock: PriorityLock, name: str, order: list[str], *, urgent: bool) -> None:
    await lock.acquire(urgent=urgent)
    order.append(name)
    await asyncio.sleep(0)
    lock.release()


async def test_urgent_waiters_go_before_earlier_ordinary_ones_and_each_kind_keeps_its_order() -> (
    None
):
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    tasks = [
        asyncio.create_task(_hold(lock, "read 1", order, urgent=False)),
        asyncio.create_task(_hold(lock, "read 2", order, urgent=False)),
        asyncio.create_task(_hold(lock, "ack 1", order, urgent=True)),
        asyncio.create_task(_hold(lock, "ack 2", order, urgent=True)),
    ]
    await asyncio.sleep(0)  # all four are waiting
    lock.release()
    await asyncio.gather(*tasks)
    assert order == ["ack 1", "ack 2", "read 1", "read 2"]
    assert not lock.locked()


async def test_a_cancelled_waiter_neither_takes_nor_blocks_the_lock() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    cancelled = asyncio.create_task(_hold(lock, "gone", order, urgent=True))
    later = asyncio.create_task(_hold(lock, "later", order, urgent=False))
    await asyncio.sleep(0)
    cancelled.cancel()
    lock.release()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await later
    assert order == ["later"]
    assert not lock.locked()


async def test_a_waiter_cancelled_as_the_lock_is_handed_to_it_passes_it_on() -> None:
    lock = PriorityLock()
    order: list[str] = []
    await lock.acquire()
    first = asyncio.create_task(_hold(lock, "first", order, urgent=False))
    second = asyncio.create_task(_hold(lock, "second", order, urgent=False))
    await asyncio.sleep(0)
    lock.release()  # handed to `first`, which has not run yet
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await second
    assert order == ["second"]
    assert not lock.locked()
