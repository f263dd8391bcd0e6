"""Pure parts of the capture service: how old a duplicate is, which phone spellings to look for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.leads.capture import age, phone_variants

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(seconds=30), ("time-just-now", 0)),
        (timedelta(minutes=5), ("time-minutes-ago", 5)),
        (timedelta(hours=2, minutes=59), ("time-hours-ago", 2)),
        (timedelta(days=3, hours=1), ("time-days-ago", 3)),
        (timedelta(days=-1), ("time-just-now", 0)),
    ],
)
def test_age_of_a_duplicate(elapsed: timedelta, expected: tuple[str, int]) -> None:
    assert age(NOW - elapsed, NOW) == expected


def test_age_in_another_time_zone_and_unknown() -> None:
    moscow = NOW.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+03:00").tzinfo)
    assert age(moscow - timedelta(days=1), NOW) == ("time-days-ago", 1)
    assert age(None, NOW) == ("time-just-now", 0)


def test_phone_variants_add_the_national_digits() -> None:
    assert phone_variants("+79161234567") == ["+79161234567", "89161234567"]
    assert phone_variants("+491701234567") == ["+491701234567", "01701234567"]
    assert phone_variants("not a phone") == ["not a phone"]
