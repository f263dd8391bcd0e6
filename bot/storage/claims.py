"""How a replica holds the queue rows it works on: claims that run out unless renewed.

With several replicas on one PostgreSQL database, every replica's event processor and sender
drain the shared inbox and outbox. A row taken by one of them is `claimed_by` it until
`claimed_until`; the holder renews the claims of the rows still in its hands every
`renew_seconds`, and a replica that dies simply stops renewing: its rows are free again when
the claim runs out, and another replica takes them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.db import DATABASE_ERRORS, Database
from bot.storage.sql import execute
from bot.storage.timestamps import to_db_time

log = logging.getLogger(__name__)

CLAIM_SECONDS = 6.0
"""How long a claim holds without renewal: a dead replica's rows are free again after this
(the workers' lease of the leader lasts as long)."""
RENEW_SECONDS = 1.5
"""How often a claim is renewed: four renewals per claim, so one slow round loses nothing."""


@dataclass(frozen=True, slots=True)
class RowClaims:
    """Who this replica is among those sharing the queues, and how it holds their rows."""

    holder: str
    lease: timedelta = timedelta(seconds=CLAIM_SECONDS)
    renew_seconds: float = RENEW_SECONDS


@dataclass(frozen=True, slots=True)
class ClaimedTable:
    """A queue whose rows replicas claim: the table, and what keeps a row in the queue."""

    name: str
    queued: str
    """The SQL condition of a row still waiting or being worked on (a claim on it matters)."""

    async def renew(self, db: Database, holder: str, ids: Collection[int], until: datetime) -> int:
        """Extend `holder`'s claim on these queued rows to `until`; returns how many it still
        held (fewer than asked: the claim ran out and another replica may have them now)."""
        if not ids:
            return 0
        async with db.transaction() as conn:
            result = await execute(
                conn,
                f"UPDATE {self.name} SET claimed_until = ? "  # noqa: S608 (fixed names)
                f"WHERE claimed_by = ? AND {self.queued} "
                f"AND id IN ({conn.dialect.int_array_rows})",
                (to_db_time(until), holder, json.dumps(sorted(ids))),
            )
        return result.rowcount

    async def release(self, db: Database, holder: str, ids: Collection[int]) -> None:
        """Let go of `holder`'s claim on these rows at once (any replica may take them)."""
        if not ids:
            return
        async with db.transaction() as conn:
            await execute(
                conn,
                f"UPDATE {self.name} SET claimed_by = NULL, claimed_until = NULL "  # noqa: S608
                f"WHERE claimed_by = ? AND id IN ({conn.dialect.int_array_rows})",
                (holder, json.dumps(sorted(ids))),
            )


Renew = Callable[[str, Collection[int], timedelta], Awaitable[int]]
"""A repository's `renew(holder, ids, lease)`: how many of the rows the holder still held."""


async def keep_claimed(
    claims: RowClaims, renew: Renew, ids: Callable[[], Collection[int]], what: str
) -> None:
    """Renew the claim on the rows `ids()` names every `renew_seconds`, until cancelled."""
    while True:
        await asyncio.sleep(claims.renew_seconds)
        held_ids = ids()
        if not held_ids:
            continue
        try:
            await renew(claims.holder, held_ids, claims.lease)
        except DATABASE_ERRORS as exc:
            # The next round tries again; the claim holds for several rounds.
            log.warning("could not renew the claim on %s: %s", what, type(exc).__name__)
