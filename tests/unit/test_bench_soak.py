"""The soak bench's own arithmetic: the pace of its changes, how its POSTs kept to it, and
how it reads the bot's queues."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from bench.soak import (
    ON_TIME_SECONDS,
    Delivery,
    Pace,
    Stages,
    Tally,
    lead_reads,
    posting_figures,
    slowest_windows,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.bitrix24_state import CallRecord


def test_on_schedule_each_change_is_made_at_its_due_moment() -> None:
    pace = Pace(lambda elapsed: 50.0, fastest=200.0, started=100.0)
    moments = []
    for _ in range(4):
        start = pace.next_start()
        moments.append(start)
        assert pace.made(start) == start
    assert moments == pytest.approx([100.0, 100.02, 100.04, 100.06])


def test_after_a_hold_up_the_changes_due_are_made_at_the_top_rate_not_at_once() -> None:
    pace = Pace(lambda elapsed: 50.0, fastest=200.0, started=0.0)
    pace.made(pace.next_start())  # due at 0.0, made then
    now = 0.5  # the loop was held up; changes were due at 0.02, 0.04, ... 0.5
    made = []
    while (start := pace.next_start()) < 1.0:
        now = max(now, start)
        made.append((now, pace.made(now)))
    at = [moment for moment, _ in made]
    assert made[0] == (0.5, pytest.approx(0.02))  # the first ones late go at once...
    assert at.count(0.5) == Pace.CLUMP
    gaps = [later - earlier for earlier, later in itertools.pairwise(at[Pace.CLUMP - 1 :])]
    assert min(gaps) == pytest.approx(1 / 200.0)  # ...then one every 5 ms, never closer
    late = [moment - due for moment, due in made]
    assert late == sorted(late, reverse=True)  # the schedule is caught up with...
    assert late[-1] == pytest.approx(0.0)  # ...and kept again
    assert len(made) == 49  # nothing skipped: every change due from 0.02 to 0.98


def test_a_loop_a_little_late_at_every_change_keeps_the_top_rate() -> None:
    pace = Pace(lambda elapsed: 200.0, fastest=200.0, started=0.0)
    now = 0.0
    for _ in range(1000):
        now = max(now, pace.next_start()) + 0.004  # each change made 4 ms after it may be
        pace.made(now)
    assert now == pytest.approx(1000 / 200.0, abs=0.01)  # 5 s for 1,000: no slip


def test_the_schedule_follows_the_rate_of_each_moment() -> None:
    pace = Pace(lambda elapsed: 200.0 if elapsed >= 1.0 else 50.0, fastest=200.0, started=0.0)
    now = 0.0
    while now < 1.0:
        now = pace.next_start()
        pace.made(now)
    assert pace.next_start() == pytest.approx(now + 1 / 200.0)


def test_posts_that_started_late_are_counted_and_left_out_of_the_on_time_p99() -> None:
    tally = Tally()
    tally.acks = [(0, 0.002, 0.0)] * 98 + [(1, 0.080, ON_TIME_SECONDS * 30)] * 2
    figures = posting_figures(tally)
    assert figures["posts_late"] == 2
    assert figures["post_late_max_ms"] == pytest.approx(300.0)
    assert figures["ack_p99_on_time_ms"] == pytest.approx(2.0)
    assert posting_figures(Tally())["posts_late"] == 0


def test_the_queues_rows_are_taken_in_once_as_they_are_handled(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE inbox (id INTEGER, received_at TEXT, processed_at TEXT)")
        conn.execute(
            "CREATE TABLE outbox (id INTEGER, chat_id INTEGER, payload TEXT, created_at TEXT,"
            " sent_at TEXT, priority INTEGER, state TEXT)"
        )
        conn.execute("INSERT INTO inbox VALUES (1, '2026-12-06T10:00:00.000000Z', NULL)")
        conn.execute(
            "INSERT INTO outbox VALUES (1, 7, ?, '2026-12-06T10:00:00.250000Z',"
            " '2026-12-06T10:00:00.500000Z', 0, 'sent')",
            (json.dumps({"text": "Lead #42 changed"}),),
        )
    stages = Stages()
    stages.read(db)
    assert stages.inbox == {}  # not handled yet
    assert stages.sends == {(7, 42): [(1796551200.25, 1796551200.5)]}
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE inbox SET processed_at = '2026-12-06T10:00:01.500000Z'")
    stages.read(db)
    stages.read(db)
    assert stages.inbox == {1: (1796551200.0, 1796551201.5)}
    assert stages.sends == {(7, 42): [(1796551200.25, 1796551200.5)]}  # once, not per read
    assert stages.outbox == {1: (1796551200.25, 1796551200.5, False)}


def test_the_slowest_windows_name_the_requests_that_were_not_the_processors_reads() -> None:
    started = 1_000.0  # wall clock; the requests' clock runs 500 s behind it
    trail = [Delivery(0, 1, 10, started + 3.0, started + 3.4)]
    trail += [Delivery(0, 1, 11, started + 12.0, started + 13.3)]
    read = CallRecord(
        method="batch", arrived_at=511.0, params={"cmd": {"l0": "crm.lead.list?filter[@ID][0]=10"}}
    )
    sync = CallRecord(
        method="batch",
        arrived_at=509.5,  # 9.5 s into the load: just before the slow window
        params={"cmd": {"p0": "crm.activity.list?start=0"}},
        batch_methods=["crm.activity.list"],
    )
    windows = slowest_windows(trail, [read, sync], started, to_wall=500.0)
    assert windows[0] == {
        "from_s": 10,
        "messages": 1,
        "e2m_p95_ms": 1300,
        "other_portal_requests": ["9.5 s crm.activity.list"],
    }
    assert windows[1]["from_s"] == 0
    assert windows[1]["other_portal_requests"] == ["9.5 s crm.activity.list"]


def test_lead_reads_tell_the_processors_reads_by_id_from_the_catch_up_polls_lists() -> None:
    portal = Bitrix24Emulator()
    processor = (
        "crm.lead.list?filter%5B%40ID%5D%5B0%5D=10&filter%5B%40ID%5D%5B1%5D=11"
        "&select%5B0%5D=ID&select%5B1%5D=DATE_MODIFY&order%5BID%5D=ASC&start=-1"
    )
    poll = (
        "crm.lead.list?filter%5B%3EDATE_MODIFY%5D=2026-12-07T09%3A00%3A00%2B00%3A00"
        "&filter%5B%3EID%5D=0&order%5BID%5D=ASC&select%5B0%5D=ID&select%5B1%5D=DATE_MODIFY&start=-1"
    )
    portal.calls.extend(
        [
            CallRecord(method="batch", arrived_at=1.0, params={"cmd": {"l0": processor}}),
            CallRecord(method="batch", arrived_at=2.0, params={"cmd": {"p0": poll, "p1": poll}}),
        ]
    )
    # Both name DATE_MODIFY; only the poll filters on it.
    assert lead_reads(portal) == (2, 2)
