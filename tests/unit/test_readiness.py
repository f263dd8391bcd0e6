"""Readiness: queue ages, cached reachability, and how probes are rationed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.readiness import Reachability, Readiness
from bot.storage import Database, SqliteDatabase
from bot.storage.db import MEMORY
from bot.storage.timestamps import to_db_time
from tests.fixtures_storage import Backend

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _readiness(db: Database, clock: Clock, probes: list[str], *, fail: bool = False) -> Readiness:
    async def portal_probe() -> None:
        probes.append("portal")
        if fail:
            raise TimeoutError

    async def telegram_probe() -> None:
        probes.append("telegram")

    return Readiness(
        db=db,
        portal=Reachability(clock),
        telegram=Reachability(clock),
        portal_probe=portal_probe,
        telegram_probe=telegram_probe,
        check_seconds=30,
        queue_age_seconds=300,
        clock=lambda: NOW,
    )


async def test_an_old_unprocessed_event_makes_the_bot_not_ready(db: Database) -> None:
    probes: list[str] = []
    readiness = _readiness(db, Clock(), probes)
    assert (await readiness.report())["ready"] is True
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO inbox (dedup_key, event, received_at) VALUES ('k', 'ONCRMLEADADD', ?)",
            (to_db_time(NOW - timedelta(seconds=301)),),
        )
    report = await readiness.report()
    assert report["ready"] is False
    assert report["checks"]["inbox"]["ok"] is False
    assert report["checks"]["inbox"]["oldest_pending_s"] == 301
    assert report["checks"]["outbox"]["ok"] is True


async def test_recent_calls_are_trusted_and_probes_come_at_most_once_per_period() -> None:
    probes: list[str] = []
    clock = Clock()
    async with SqliteDatabase(MEMORY) as db:
        readiness = _readiness(db, clock, probes)
        readiness.portal.observe_portal("crm.lead.get", 200, False)
        readiness.telegram.success()
        for _ in range(5):
            assert (await readiness.report())["ready"] is True
        assert probes == []
        clock.now = 31.0
        for _ in range(5):
            await readiness.report()
        assert probes == ["portal", "telegram"]


async def test_a_failed_portal_call_is_reported_with_its_reason() -> None:
    probes: list[str] = []
    async with SqliteDatabase(MEMORY) as db:
        readiness = _readiness(db, Clock(), probes)
        readiness.telegram.success()
        readiness.portal.observe_portal("crm.lead.list", 0, False)
        report = await readiness.report()
        assert report["ready"] is False
        assert report["checks"]["portal"]["problem"] == "no answer"
        readiness.portal.observe_portal("crm.lead.list", 503, True)  # busy is not broken
        assert (await readiness.report())["ready"] is True


async def test_a_probe_that_hangs_counts_as_no_answer() -> None:
    probes: list[str] = []
    async with SqliteDatabase(MEMORY) as db:
        readiness = _readiness(db, Clock(), probes, fail=True)
        report = await readiness.report()
    assert report["checks"]["portal"]["ok"] is False
    assert "no answer" in report["checks"]["portal"]["problem"]


async def test_a_closed_database_is_reported_not_raised(backend: Backend) -> None:
    probes: list[str] = []
    db = backend.database()
    report = await _readiness(db, Clock(), probes).report()
    assert report["ready"] is False
    assert report["checks"]["database"] == {"ok": False, "problem": "DatabaseClosedError"}
