"""How a replica holds the queue rows it works on: claims that run out unless renewed.

With several replicas on one PostgreSQL database, every replica's event processor and sender
drain the shared inbox and outbox. A row taken by one of them is `claimed_by` it until
`claimed_until`; the holder renews the claims of the rows still in its hands every
`renew_seconds`, and a replica that dies simply stops renewing: its rows are free again when
the claim runs out, and another replica takes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta

from bot.storage.db import DATABASE_ERRORS

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
