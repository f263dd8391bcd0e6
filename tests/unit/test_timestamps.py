"""How moments are written to the database's text columns and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.storage.timestamps import from_db_time, to_db_time


def test_a_stored_moment_reads_back_equal_and_in_utc() -> None:
    moscow = timezone(timedelta(hours=3))
    moment = datetime(2026, 12, 5, 4, 30, 15, 123456, tzinfo=moscow)
    stored = to_db_time(moment)
    assert stored == "2026-12-05T01:30:15.123456Z"
    back = from_db_time(stored)
    assert back == moment
    assert back.tzinfo is UTC
    assert from_db_time("2026-12-05T01:30:15.000000Z").microsecond == 0


def test_a_moment_with_another_offset_is_read_as_utc_and_one_without_a_zone_is_refused() -> None:
    assert from_db_time("2026-12-05T04:30:15.000000+03:00") == datetime(
        2026, 12, 5, 1, 30, 15, tzinfo=UTC
    )
    assert from_db_time("2026-12-05T04:30:15.000000+03:00").tzinfo is UTC
    with pytest.raises(ValueError, match="without a zone"):
        from_db_time("2026-12-05T01:30:15.000000")
    with pytest.raises(ValueError, match="Invalid isoformat"):
        from_db_time("yesterday")
    with pytest.raises(ValueError, match="naive datetime"):
        to_db_time(datetime(2026, 12, 5))
