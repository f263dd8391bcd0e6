"""Telegram's flood budgets and pause shared by replicas through Redis: the send script on an
injected clock, chat gaps across replicas, and the 429 pause every replica honours."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.config import NotifySettings
from bot.notify.budget import ROUTINE_RESERVE
from bot.replicas import RedisFloodPause, RedisSendBudget
from bot.telegram_retry import FloodPause
from tests.fixtures_redis import replica
from tests.replicas.test_shared_portal_budget import Clock, windows_within_limit

LIMITS = NotifySettings()  # 28/s overall with a burst of 5, 1/s a private chat, 20/min a group


def budget(redis_client: Redis, prefix: str, name: str, clock: Clock) -> RedisSendBudget:
    return RedisSendBudget(
        redis_client, replica(prefix, name), LIMITS, clock=clock, server_clock=clock
    )


async def test_an_idle_budget_gives_the_burst_then_the_rate(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    sends = budget(redis_client, redis_prefix, "a", clock)
    turns = [await sends.take(chat) for chat in range(1, 7)]
    assert [turn.send is not None for turn in turns] == [True] * 5 + [False]
    assert not turns[-1].chat_waits
    assert turns[-1].wait == pytest.approx(1 / 28)
    clock.now += 1 / 28
    assert (await sends.take(6)).send is not None


async def test_routine_sends_leave_part_of_the_shared_budget_for_live_ones(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    first = budget(redis_client, redis_prefix, "a", clock)
    second = budget(redis_client, redis_prefix, "b", clock)
    routine = [await first.take(chat, routine=True) for chat in range(1, 5)]
    assert [turn.send is not None for turn in routine] == [True] * 3 + [False]
    assert routine[-1].wait == pytest.approx(1 / 28)
    live = [await second.take(chat) for chat in range(10, 13)]
    assert [turn.send is not None for turn in live] == [True] * ROUTINE_RESERVE + [False]


async def test_routine_sends_leave_part_of_the_shared_window_for_live_ones(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    sends = budget(redis_client, redis_prefix, "a", clock)
    granted = 0
    for chat in range(1, 200):
        clock.now += 0.01
        turn = await sends.take(chat, routine=True)
        if turn.send is not None:
            granted += 1
            await sends.done(turn.send)  # answered at once
    # Within the last second the routine sends took the window but for the reserve...
    clock.now += 0.005
    assert (await sends.take(900, routine=True)).send is None
    # ...which live sends may still use.
    assert (await sends.take(901)).send is not None
    assert granted >= 28 * 2 - 10


async def test_sends_still_in_flight_fill_the_one_second_window(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    sends = budget(redis_client, redis_prefix, "a", clock)
    granted = []
    for chat in range(1, 200):
        clock.now += 0.01
        turn = await sends.take(chat)
        if turn.send is not None:
            granted.append(turn.send)
    assert len(granted) == 28  # no answer came back: the window holds every one of them
    for send in granted:
        await sends.done(send)
    clock.now += 0.999
    assert (await sends.take(500)).send is None
    clock.now += 0.002  # a second after the answers
    assert (await sends.take(500)).send is not None


async def test_a_chat_written_to_by_one_replica_waits_its_gap_on_the_other(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    first = budget(redis_client, redis_prefix, "a", clock)
    second = budget(redis_client, redis_prefix, "b", clock)
    assert (await first.take(4242)).send is not None
    held = await second.take(4242)
    assert held.send is None
    assert held.chat_waits
    assert 0 < held.wait <= 1.05  # Telegram's 1 s, plus the margin for transit
    waiting, _ = second.waiting()
    assert 4242 in waiting  # left out of the second replica's next batch
    group = await first.take(-77)
    assert group.send is not None
    held = await second.take(-77)
    assert held.chat_waits
    assert 1.05 < held.wait <= 3.152  # 20 a minute, plus the margin (whole ms)
    assert (await second.take(4243)).send is not None  # other chats are not held


async def test_two_replicas_together_keep_the_overall_rate(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    replicas = [budget(redis_client, redis_prefix, name, clock) for name in ("a", "b", "c")]
    granted_at: list[float] = []
    chat = 0
    for _ in range(300):  # three seconds in steps of 10 ms
        clock.now += 0.01
        for sends in replicas:
            while True:
                chat += 1
                turn = await sends.take(chat)
                if turn.send is None:
                    break
                granted_at.append(clock.now)
                await sends.done(turn.send)  # answered at once
    over = windows_within_limit(granted_at, drain=28.0, burst=5)
    for length in (0.0, 0.1, 0.5, 1.0, 2.0):
        assert over(length) == []
    one_second = windows_within_limit(granted_at, drain=0.0, burst=28)
    assert one_second(0.999) == []  # never more than 28 in any second
    assert len(granted_at) >= 28 * 2  # and the budget is used, not starved


async def test_a_429_seen_by_one_replica_pauses_every_replica(
    redis_client: Redis, redis_prefix: str
) -> None:
    first = RedisFloodPause(redis_client, replica(redis_prefix, "a"))
    second = RedisFloodPause(redis_client, replica(redis_prefix, "b"))
    assert await second.remaining() == 0.0
    await first.pause_for(30)
    assert 0 < await second.remaining() <= 30
    await second.pause_for(1)  # a shorter pause never shortens the one on
    assert await first.remaining() > 1
    assert first.retry_after_seen == second.retry_after_seen == 1
    ttl = await redis_client.pttl(f"{redis_prefix}telegram:pause")
    assert 0 < ttl <= 30_000  # stored with its expiry: it ends by itself


async def test_the_in_process_pause_has_the_same_behaviour() -> None:
    clock = Clock()
    pause = FloodPause(clock)
    await pause.pause_for(30)
    await pause.pause_for(1)
    clock.now += 10
    assert await pause.remaining() == pytest.approx(20)


async def test_answers_to_users_count_in_the_shared_budget_without_a_chat_gap(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    answers = budget(redis_client, redis_prefix, "a", clock)
    notifications = budget(redis_client, redis_prefix, "b", clock)
    turns = [await answers.take(0, chat_gap=False) for _ in range(5)]
    assert all(turn.send is not None for turn in turns)  # one "chat", no 1 s gap between
    # The burst went to answers on one replica: the other's notification waits its turn.
    held = await notifications.take(4242)
    assert held.send is None
    assert not held.chat_waits
    assert 4242 not in answers.waiting()[0]


async def test_an_answer_on_one_replica_holds_the_chat_for_notifications_on_another(
    redis_client: Redis, redis_prefix: str
) -> None:
    clock = Clock()
    answers = budget(redis_client, redis_prefix, "a", clock)
    notifications = budget(redis_client, redis_prefix, "b", clock)
    assert (await answers.take(4242, chat_gap=False, mark_chat=True)).send is not None
    assert (await answers.take(4242, chat_gap=False, mark_chat=True)).send is not None
    held = await notifications.take(4242)
    assert held.send is None
    assert held.chat_waits
    assert 0 < held.wait <= 1.05  # the gap is a key that lapses on Redis's own clock
    assert (await notifications.take(4243)).send is not None  # other chats are not held
