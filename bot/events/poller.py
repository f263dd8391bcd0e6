"""The catch-up poller: leads changed since a watermark go into the same inbox as events.

The portal never re-sends a lost event, so this is what makes intake complete; with no
application token configured it is the only intake. Deleted leads are invisible to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.notify.diff import SNAPSHOT_FIELDS, diff_lead, snapshot_of
from bot.portal import Lane, PortalClient, PortalError
from bot.storage.db import Database
from bot.storage.inbox import InboxRepository
from bot.storage.kv import KeyValueRepository
from bot.storage.snapshots import SnapshotRepository
from bot.storage.timestamps import Clock, utc_now

log = logging.getLogger(__name__)


def _fingerprint(snapshot: dict[str, Any]) -> str:
    text = json.dumps(snapshot, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _modified(snapshot: dict[str, Any]) -> datetime:
    """A snapshot's DATE_MODIFY (the oldest possible moment when it has none)."""
    raw = snapshot.get("DATE_MODIFY")
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    return moment if moment is not None and moment.tzinfo is not None else _EPOCH


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WATERMARK_KEY = "events.poll_watermark"
STARTED_KEY = "events.poll_started"
# Leads listed between two yields to the event loop, and inbox rows per transaction.
YIELD_EVERY = 200
INSERT_CHUNK = 200
# Leads compared with their stored snapshots at once: the listed leads and the snapshots read
# for them are both held meanwhile, and the process keeps the memory of its biggest moment.
QUEUE_CHUNK = 500
CATCH_UP_CHAINS = 1
"""Keyset chains a pass reads at once while events come by themselves. Each chain holds its
request's answer (up to 2,500 leads) until they are compared, so chains read side by side hold
all their leads together at every pass: a high-water mark the process keeps. Nobody waits for a
catch-up pass, so it reads one request after another. When the poll is the only intake the
reader's default applies (as many chains as the limiter can send at once): events wait for it."""
POLL_EVENT = "POLL"


class CatchUpPoller:
    """Reads `>DATE_MODIFY` (watermark minus overlap) in ID order and stores what it finds."""

    def __init__(
        self,
        portal: PortalClient,
        db: Database,
        inbox: InboxRepository,
        kv: KeyValueRepository,
        snapshots: SnapshotRepository,
        *,
        interval: float,
        overlap: timedelta,
        on_stored: Callable[[], None],
        clock: Clock = utc_now,
        lane: Lane = Lane.BACKGROUND,
    ) -> None:
        self._portal = portal
        self._db = db
        self._inbox = inbox
        self._kv = kv
        self._snapshots = snapshots
        self.listed = 0
        """Leads the poll listed (each pass lists every lead changed in its window)."""
        self.queued = 0
        """Leads it queued for the processor: changes no event brought."""
        self._interval = interval
        self._overlap = overlap
        self._on_stored = on_stored
        self._clock = clock
        self._lane = lane
        """ROUTINE while events come by themselves: a catch-up pass of several requests then
        takes the slots the processor leaves, one in five at most while it keeps the portal
        busy (BACKGROUND when the poll is the only intake)."""

    async def poll_once(self) -> int:
        """One catch-up pass; returns how many new inbox rows it wrote."""
        stored = await self._kv.get(WATERMARK_KEY)
        if not isinstance(stored, str):
            # First start: report what changes from now on, not the whole history.
            now = self._clock().isoformat()
            await self._kv.set(STARTED_KEY, now)
            await self._kv.set(WATERMARK_KEY, now, durable=True)
            return 0
        watermark = datetime.fromisoformat(stored)
        started = await self._kv.get(STARTED_KEY)
        since = watermark - self._overlap
        if isinstance(started, str):
            # The overlap never reaches back before the first start (that is history);
            # DATE_MODIFY has whole seconds, so the second of the start itself is included.
            first = datetime.fromisoformat(started).replace(microsecond=0)
            since = max(since, first - timedelta(seconds=1))
        newest = watermark
        found: list[tuple[int, datetime, dict[str, Any]]] = []
        added = 0
        async for lead in self._portal.iter_leads(
            {">DATE_MODIFY": since.isoformat()},
            select=list(SNAPSHOT_FIELDS),
            lane=self._lane,
            chains=CATCH_UP_CHAINS if self._lane is Lane.ROUTINE else None,
        ):
            if lead.id is None or lead.date_modify is None:
                continue
            found.append((lead.id, lead.date_modify, snapshot_of(lead)))
            newest = max(newest, lead.date_modify)
            if len(found) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the event endpoint shares this loop
            if len(found) >= QUEUE_CHUNK:
                # Page by page: memory stays bounded however many leads the window holds.
                added += await self._queue(found)
                found = []
        added += await self._queue(found)
        if newest != watermark:
            await self._kv.set(WATERMARK_KEY, newest.isoformat(), durable=True)
        self.queued += added
        if added:
            log.info("catch-up poll found %d changed leads not yet seen", added)
            self._on_stored()
        return added

    async def _queue(self, found: list[tuple[int, datetime, dict[str, Any]]]) -> int:
        """Queue the leads of `found` not seen yet; returns how many inbox rows were new."""
        self.listed += len(found)
        unseen = await self._unseen(found)
        added = 0
        for start in range(0, len(unseen), INSERT_CHUNK):
            rows: list[tuple[str, str, int | None, dict[str, Any]]] = [
                # DATE_MODIFY has whole seconds: two changes in one second differ only in
                # their fields, so those are part of the key too.
                (
                    f"poll:{lead_id}:{modified.isoformat()}:{_fingerprint(snapshot)}",
                    POLL_EVENT,
                    lead_id,
                    {"date_modify": modified.isoformat()},
                )
                for lead_id, modified, snapshot in unseen[start : start + INSERT_CHUNK]
            ]
            added += sum(await self._inbox.add_many(rows, durable=False))
        return added

    async def _unseen(
        self, found: list[tuple[int, datetime, dict[str, Any]]]
    ) -> list[tuple[int, datetime, dict[str, Any]]]:
        """The leads whose change the processor has neither handled nor queued yet.

        The webhook's events and the poll share this: a lead with an event still waiting is
        read once, for both, and a lead whose snapshot already shows what the poll saw (or
        something newer) is not read again.
        """
        ids = [lead_id for lead_id, _, _ in found]
        pending = await self._inbox.pending_lead_ids(ids)
        stored = await self._snapshots.get_many(ids)
        unseen = []
        for number, (lead_id, modified, snapshot) in enumerate(found):
            if number % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # the event endpoint shares this loop
            if lead_id in pending:
                continue
            before = stored.get(lead_id)
            if before is not None and (
                diff_lead(lead_id, before, snapshot) is None or _modified(before) > modified
            ):
                continue
            unseen.append((lead_id, modified, snapshot))
        return unseen

    async def run(self) -> None:
        """Poll every `interval` seconds until cancelled."""
        while True:
            try:
                await self.poll_once()
            except PortalError as exc:
                log.warning("catch-up poll failed: %s", exc.code or type(exc).__name__)
            await asyncio.sleep(self._interval)
