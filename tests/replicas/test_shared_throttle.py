"""Per-user throttling counted over replicas in Redis, on an injected clock."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.replicas import RedisUserThrottle
from bot.throttle import BucketRule, UpdateKind, Verdict
from tests.fixtures_redis import replica
from tests.replicas.test_shared_portal_budget import Clock

GENERAL = BucketRule(rate=20, per_seconds=10, burst=20)
SIGN_IN = BucketRule(rate=5, per_seconds=600, burst=5)


def throttle(redis_client: Redis, prefix: str, name: str, clock: Clock) -> RedisUserThrottle:
    return RedisUserThrottle(
        redis_client, replica(prefix, name), GENERAL, SIGN_IN, server_clock=clock
    )


async def test_a_user_whose_updates_reach_two_replicas_has_one_budget(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    replicas = [throttle(redis_client, redis_prefix, name, clock) for name in ("a", "b")]
    verdicts = [await replicas[n % 2].judge(7, UpdateKind.GENERAL, clock.now) for n in range(23)]
    assert verdicts == [Verdict.PASS] * 20 + [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    clock.now += 0.5  # one token back at 2/s
    assert await replicas[1].judge(7, UpdateKind.GENERAL, clock.now) is Verdict.PASS
    assert await replicas[0].judge(7, UpdateKind.GENERAL, clock.now) is Verdict.WARN
    # Other users and the sign-in bucket are counted apart.
    assert await replicas[0].judge(8, UpdateKind.GENERAL, clock.now) is Verdict.PASS
    assert await replicas[0].judge(7, UpdateKind.SIGN_IN, clock.now) is Verdict.PASS


async def test_sign_in_tries_refill_slowly_over_every_replica(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    first = throttle(redis_client, redis_prefix, "a", clock)
    second = throttle(redis_client, redis_prefix, "b", clock)
    for _ in range(5):
        assert await first.judge(9, UpdateKind.SIGN_IN, clock.now) is Verdict.PASS
    assert await second.judge(9, UpdateKind.SIGN_IN, clock.now) is Verdict.WARN
    clock.now += 100.0
    assert await second.judge(9, UpdateKind.SIGN_IN, clock.now) is Verdict.DROP
    clock.now += 25.0  # 120 s per try
    assert await first.judge(9, UpdateKind.SIGN_IN, clock.now) is Verdict.PASS


async def test_an_idle_user_is_forgotten_by_redis_itself(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    shared = throttle(redis_client, redis_prefix, "a", clock)
    await shared.judge(10, UpdateKind.GENERAL, clock.now)
    ttl = await redis_client.pttl(f"{redis_prefix}throttle:general:10")
    assert 0 < ttl <= 1500  # half a second to refill one token, and a second's margin
