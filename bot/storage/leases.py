"""Named leases: one holder at a time, until the lease runs out or its holder lets it go."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.db import Database
from bot.storage.json_codec import decode_json, encode_json
from bot.storage.sql import execute, fetch_one_in
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

_PREFIX = "lease."


class LeaseRepository:
    """Leases kept as rows of the kv table; taking one is a read and a write in one transaction.

    Write transactions never interleave (on PostgreSQL across every replica), so two replicas
    asking at once cannot both be told yes.
    """

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease for `ttl` from now; False while somebody else holds it."""
        now = self._clock()
        # First in the line of local writers: a renewal waiting behind background writes could
        # outlive the lease it renews.
        async with self._db.transaction(durable=True) as conn:
            row = await fetch_one_in(conn, "SELECT value FROM kv WHERE key = ?", (_PREFIX + name,))
            if row is not None:
                current = decode_json(row["value"])
                if current["holder"] != holder and from_db_time(current["until"]) > now:
                    return False
            await execute(
                conn,
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (
                    _PREFIX + name,
                    encode_json({"holder": holder, "until": to_db_time(now + ttl)}),
                    to_db_time(now),
                ),
            )
        return True

    async def release(self, name: str, holder: str) -> bool:
        """Let the lease go at once, if this holder has it; True when it did."""
        async with self._db.transaction() as conn:
            row = await fetch_one_in(conn, "SELECT value FROM kv WHERE key = ?", (_PREFIX + name,))
            if row is None or decode_json(row["value"])["holder"] != holder:
                return False
            await execute(conn, "DELETE FROM kv WHERE key = ?", (_PREFIX + name,))
        return True

    async def holder(self, name: str) -> str | None:
        """Who holds the lease now (None: nobody, or it ran out)."""
        row = await self._db.fetch_one("SELECT value FROM kv WHERE key = ?", (_PREFIX + name,))
        if row is None:
            return None
        current = decode_json(row["value"])
        holder: str = current["holder"]
        return holder if from_db_time(current["until"]) > self._clock() else None
