"""Token bucket maths of per-user throttling, with the time passed in (no sleeping)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import Update

from bot.throttle import BucketRule, TokenBucket, UpdateKind, UserThrottle, Verdict, classify

GENERAL = BucketRule(rate=20, per_seconds=10, burst=20)
SIGN_IN = BucketRule(rate=5, per_seconds=600, burst=5)


def test_bucket_lets_the_burst_through_then_refuses() -> None:
    bucket = TokenBucket(GENERAL, now=0.0)
    assert all(bucket.take(0.0) for _ in range(20))
    assert not bucket.take(0.0)


def test_bucket_refills_at_the_rule_rate_and_not_above_the_burst() -> None:
    bucket = TokenBucket(GENERAL, now=0.0)
    for _ in range(20):
        bucket.take(0.0)
    assert not bucket.take(0.4)  # 0.8 of a token after 0.4 s at 2/s
    assert bucket.take(0.5)
    assert bucket.is_full(1000.0)
    assert bucket.tokens == pytest.approx(20.0)


def test_time_going_backwards_never_adds_tokens() -> None:
    bucket = TokenBucket(SIGN_IN, now=100.0)
    for _ in range(5):
        assert bucket.take(100.0)
    assert not bucket.take(50.0)
    assert not bucket.take(100.0)


def test_rule_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        BucketRule(rate=0, per_seconds=10, burst=1)


def test_first_refusal_warns_then_drops_until_one_passes() -> None:
    throttle = UserThrottle(GENERAL, SIGN_IN)
    verdicts = [throttle.check(7, UpdateKind.GENERAL, 0.0) for _ in range(23)]
    assert verdicts[:20] == [Verdict.PASS] * 20
    assert verdicts[20:] == [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    assert throttle.check(7, UpdateKind.GENERAL, 0.5) is Verdict.PASS
    assert throttle.check(7, UpdateKind.GENERAL, 0.5) is Verdict.WARN


def test_users_have_their_own_buckets() -> None:
    throttle = UserThrottle(GENERAL, SIGN_IN)
    for _ in range(21):
        throttle.check(1, UpdateKind.GENERAL, 0.0)
    assert throttle.check(2, UpdateKind.GENERAL, 0.0) is Verdict.PASS


def test_sign_in_tries_have_a_stricter_limit_that_refills_slowly() -> None:
    throttle = UserThrottle(GENERAL, SIGN_IN)
    assert [throttle.check(1, UpdateKind.SIGN_IN, t) for t in range(6)] == [
        *[Verdict.PASS] * 5,
        Verdict.WARN,
    ]
    # Ordinary updates still pass while sign-in tries are refused.
    assert throttle.check(1, UpdateKind.GENERAL, 6.0) is Verdict.PASS
    assert throttle.check(1, UpdateKind.SIGN_IN, 100.0) is Verdict.DROP
    assert throttle.check(1, UpdateKind.SIGN_IN, 125.0) is Verdict.PASS  # 120 s per token


def test_idle_users_are_forgotten_when_the_table_is_full() -> None:
    throttle = UserThrottle(GENERAL, SIGN_IN, max_users=3)
    for user in (1, 2, 3):
        throttle.check(user, UpdateKind.GENERAL, 0.0)
    throttle.check(4, UpdateKind.GENERAL, 1000.0)
    assert len(throttle) == 1


def _update(message: dict[str, Any]) -> Update:
    base = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}}
    return Update.model_validate({"update_id": 1, "message": {**base, **message}})


def test_contacts_and_invite_links_are_sign_in_tries() -> None:
    contact = {"contact": {"phone_number": "+1", "first_name": "A", "user_id": 5}}
    assert classify(_update(contact)) is UpdateKind.SIGN_IN
    assert classify(_update({"text": "/start inv_abc"})) is UpdateKind.SIGN_IN
    assert classify(_update({"text": "/start"})) is UpdateKind.GENERAL
    assert classify(_update({"text": "hello"})) is UpdateKind.GENERAL
