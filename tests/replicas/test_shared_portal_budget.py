"""The portal's request budget shared by replicas through Redis: the Lua bucket on an injected
clock, and two limiters on Redis's own clock that together keep the portal's limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from bot.portal.limiter import INTERACTIVE_SHARE, Lane
from bot.replicas import RedisPortalLimiter, SharedLeakyBucket
from tests.fixtures_redis import replica


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def bucket(
    redis_client: Redis,
    prefix: str,
    name: str,
    clock: Clock,
    *,
    drain: float = 2.0,
    burst: int = 50,
) -> SharedLeakyBucket:
    return SharedLeakyBucket(
        redis_client,
        replica(prefix, name),
        drain_per_second=drain,
        burst=burst,
        server_clock=clock,
    )


async def takes_until_refused(shared: SharedLeakyBucket, lane: Lane = Lane.INTERACTIVE) -> int:
    granted = 0
    while (await shared.take(lane)).granted:
        granted += 1
    return granted


async def test_an_idle_portal_gives_exactly_the_burst_at_once(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    shared = bucket(redis_client, redis_prefix, "a", clock)
    assert await takes_until_refused(shared) == 50
    refused = await shared.take(Lane.INTERACTIVE)
    assert not refused.granted
    assert refused.level == pytest.approx(50.0)
    assert refused.wait == pytest.approx(0.5)  # one slot drains at 2/s


async def test_the_counter_drains_at_the_portal_rate(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    shared = bucket(redis_client, redis_prefix, "a", clock)
    await takes_until_refused(shared)
    clock.now += 0.5
    assert await takes_until_refused(shared) == 1
    clock.now += 10.0
    assert await takes_until_refused(shared) == 20
    clock.now += 0.499
    assert not (await shared.take(Lane.INTERACTIVE)).granted


async def test_a_second_replica_finds_the_budget_the_first_spent(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    first = bucket(redis_client, redis_prefix, "a", clock)
    second = bucket(redis_client, redis_prefix, "b", clock)
    assert await takes_until_refused(first) == 50
    assert await takes_until_refused(second) == 0
    clock.now += 1.0
    assert await takes_until_refused(second) == 2


async def test_a_refusal_seen_by_one_replica_slows_every_replica(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    first = bucket(redis_client, redis_prefix, "a", clock)
    second = bucket(redis_client, redis_prefix, "b", clock)
    assert (await second.take(Lane.INTERACTIVE)).granted  # the budget looks idle
    filled = await first.fill()  # the portal says QUERY_LIMIT_EXCEEDED to the first
    assert filled.level == pytest.approx(50.0)
    refused = await second.take(Lane.INTERACTIVE)
    assert not refused.granted
    assert refused.wait == pytest.approx(0.5)
    ttl = await redis_client.pttl(f"{redis_prefix}portal:bucket")
    assert 0 < ttl <= 26_000  # kept until the counter has drained, then gone


@pytest.mark.parametrize("lane", [Lane.BACKGROUND, Lane.ROUTINE])
async def test_workers_everywhere_wait_while_a_user_waits_on_another_replica(
    redis_client: Redis, redis_prefix: str, lane: Lane
) -> None:
    clock = Clock()
    users = bucket(redis_client, redis_prefix, "users", clock)
    workers = bucket(redis_client, redis_prefix, "workers", clock)
    await takes_until_refused(users, Lane.INTERACTIVE)  # full; a user now waits on "users"
    clock.now += 0.5  # one slot drained
    assert not (await workers.take(lane)).granted
    assert (await users.take(Lane.INTERACTIVE)).granted  # nobody else waits there
    clock.now += 0.5
    assert (await workers.take(lane)).granted


async def test_users_still_in_line_keep_background_callers_back(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    users = bucket(redis_client, redis_prefix, "users", clock)
    workers = bucket(redis_client, redis_prefix, "workers", clock)
    await takes_until_refused(users, Lane.INTERACTIVE)
    clock.now += 0.5
    assert (await users.take(Lane.INTERACTIVE, others=2)).granted
    clock.now += 0.5
    assert not (await workers.take(Lane.BACKGROUND)).granted
    assert (await users.take(Lane.INTERACTIVE, others=1)).granted


async def test_a_replica_that_stopped_with_users_in_line_does_not_hold_workers_forever(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    users = bucket(redis_client, redis_prefix, "users", clock)
    workers = bucket(redis_client, redis_prefix, "workers", clock)
    await takes_until_refused(users, Lane.INTERACTIVE)  # then the "users" replica dies
    clock.now += 0.5
    assert not (await workers.take(Lane.BACKGROUND)).granted
    clock.now += 2.0  # past the mark's hold (a slot and a margin)
    assert (await workers.take(Lane.BACKGROUND)).granted


async def test_a_background_caller_gets_one_slot_after_every_few_users_while_users_wait(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    users = bucket(redis_client, redis_prefix, "users", clock)
    workers = bucket(redis_client, redis_prefix, "workers", clock)
    await takes_until_refused(users, Lane.INTERACTIVE)  # full; a user waits on "users"
    for _ in range(2):
        for _ in range(INTERACTIVE_SHARE):
            clock.now += 0.5
            assert not (await workers.take(Lane.BACKGROUND)).granted
            assert not (await workers.take(Lane.ROUTINE)).granted
            assert (await users.take(Lane.INTERACTIVE, others=1)).granted
        clock.now += 0.5
        assert not (await workers.take(Lane.ROUTINE)).granted  # routine has no such share
        assert (await workers.take(Lane.BACKGROUND)).granted
        assert not (await users.take(Lane.INTERACTIVE, others=1)).granted  # it took the slot


async def test_a_slot_given_back_is_free_for_any_replica(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    first = bucket(redis_client, redis_prefix, "a", clock)
    second = bucket(redis_client, redis_prefix, "b", clock)
    assert await takes_until_refused(first) == 50
    returned = await first.give_back()
    assert returned.level == pytest.approx(49.0)
    assert await takes_until_refused(second) == 1


async def test_a_reserved_slot_left_unused_goes_back_to_the_shared_budget(
    redis_client: Redis, redis_prefix: str
) -> None:
    limiter = RedisPortalLimiter(
        redis_client, replica(redis_prefix, "a"), drain_per_second=0.001, burst=5
    )
    async with limiter.reserved(Lane.BACKGROUND):
        await limiter.acquire(Lane.BACKGROUND)  # the reserved slot: not counted again
    async with limiter.reserved(Lane.BACKGROUND):
        pass  # nothing to read after all
    assert limiter.level() == pytest.approx(1.0, abs=0.01)
    bucket_key = f"{redis_prefix}portal:bucket"
    stored = await redis_client.execute_command("HGET", bucket_key, "level")
    assert float(stored) == pytest.approx(1.0, abs=0.01)


def windows_within_limit(
    times: list[float], drain: float, burst: int
) -> Callable[[float], list[tuple[float, int]]]:
    """For a window length, every (start, count) over the limit burst + drain * length."""
    ordered = sorted(times)

    def over(length: float) -> list[tuple[float, int]]:
        found = []
        end = 0
        for start_index, start in enumerate(ordered):
            end = max(end, start_index)
            while end < len(ordered) and ordered[end] <= start + length:
                end += 1
            count = end - start_index
            if count > burst + drain * length + 1e-9:
                found.append((start, count))
        return found

    return over


async def test_two_limiters_in_one_budget_together_stay_under_the_limit(
    redis_client: Redis, redis_prefix: str
) -> None:
    drain, burst = 20.0, 5
    grants: dict[str, list[float]] = {"a": [], "b": []}
    limiters = {
        name: RedisPortalLimiter(
            redis_client,
            replica(redis_prefix, name),
            drain_per_second=drain,
            burst=burst,
            on_grant=grants[name].append,  # Redis's TIME when the slot was taken
        )
        for name in grants
    }

    async def hammer(limiter: RedisPortalLimiter, lane: Lane, count: int) -> None:
        for _ in range(count):
            await limiter.acquire(lane)

    await asyncio.gather(
        *(
            hammer(limiter, lane, 12)
            for limiter in limiters.values()
            for lane in (Lane.INTERACTIVE, Lane.BACKGROUND)
        )
    )
    every = grants["a"] + grants["b"]
    assert len(every) == 48
    assert len(grants["a"]) == len(grants["b"]) == 24
    over = windows_within_limit(every, drain, burst)
    for length in (0.0, 0.1, 0.5, 1.0, 2.0):
        assert over(length) == [], f"more than the budget within {length}s"
    span = max(every) - min(every)
    # 48 grants at 20/s after a burst of 5 need at least (48 - 5) / 20 s of Redis's clock.
    assert span >= (48 - burst - 1) / drain


async def test_users_of_one_limiter_go_before_workers_of_the_other(
    redis_client: Redis, redis_prefix: str
) -> None:
    drain, burst = 20.0, 1
    order: list[str] = []
    users = RedisPortalLimiter(
        redis_client, replica(redis_prefix, "users"), drain_per_second=drain, burst=burst
    )
    workers = RedisPortalLimiter(
        redis_client, replica(redis_prefix, "workers"), drain_per_second=drain, burst=burst
    )
    await users.acquire(Lane.INTERACTIVE)  # the budget is now full

    async def take(limiter: RedisPortalLimiter, lane: Lane, name: str) -> None:
        await limiter.acquire(lane)
        order.append(name)

    background = asyncio.create_task(take(workers, Lane.BACKGROUND, "worker"))
    interactive = [
        asyncio.create_task(take(users, Lane.INTERACTIVE, f"user{i}")) for i in range(3)
    ]
    await asyncio.gather(background, *interactive)
    assert order == ["user0", "user1", "user2", "worker"]
