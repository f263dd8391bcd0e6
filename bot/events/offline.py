"""Offline intake (application mode): the portal's own event queue, drained at least once.

Each pass reserves a batch with `event.offline.get` (`clear=0`), remembers its `process_id`
durably, stores the events in the inbox in the receiver's shape, then deletes the batch with
`event.offline.clear`. A crash anywhere before the clear leaves the batch reserved under the
remembered `process_id`, and the next pass reads that same batch again: the inbox keys
(record id and time) make the repeat a no-op. Nothing is lost while the bot is down: the
portal keeps the queue. A crash between the portal's answer and remembering its `process_id`
leaves a reservation nobody knows of: at its first pass the loop lists the queue with the
reserved records first and reads each such reservation again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.events.receiver import LEAD_EVENTS, LEAD_ID, USERFIELD_EVENTS
from bot.portal import Lane, PortalClient, PortalError
from bot.portal.errors import AuthError
from bot.portal.methods import (
    ClearOfflineEvents,
    FailOfflineEvents,
    GetOfflineEvents,
    ListOfflineEvents,
)
from bot.portal.models import OfflineEvent
from bot.storage.inbox import InboxRepository
from bot.storage.kv import KeyValueRepository
from bot.storage.timestamps import utc_now

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
"""The longest wait between two reads of the queue after failures in a row."""

PROCESS_KEY = "events.offline_process_id"
TROUBLE_KEY = "events.offline_trouble"
TROUBLE_AFTER = 3
"""Failed reads in a row before /status speaks of them (one failure is weather, three are not)."""
OFFLINE_HANDLER = "offline"
LIST_PAGE = 50
RECOVERY_PAGES = 20

InboxRow = tuple[str, str, int | None, dict[str, Any]]


def inbox_row(record: OfflineEvent) -> InboxRow | None:
    """The inbox row of one queue record (receiver's shape), or None when it is not a lead's."""
    event = record.event_name.upper()
    fields = record.fields()
    raw_id = fields.get("ID", "")
    if event not in LEAD_EVENTS or LEAD_ID.fullmatch(raw_id) is None:
        return None
    # The record's id and time: a re-read of a reserved batch gives the same key, a later
    # change of the same lead (the portal refreshes TIMESTAMP_X) a new one.
    key = f"off:{event}:{raw_id}:{record.timestamp}:{record.id}"
    payload = {"ts": record.timestamp, "handler_id": OFFLINE_HANDLER, "fields": fields}
    return key, event, int(raw_id), payload


@dataclass(frozen=True)
class IntakeTrouble:
    """The queue reads failing in a row, as /status tells an admin."""

    failures: int
    since: datetime
    code: str
    refused: bool
    """The portal refused the application's tokens (removed, or access revoked)."""


async def intake_trouble(kv: KeyValueRepository) -> IntakeTrouble | None:
    """The reads failing now, once they have failed `TROUBLE_AFTER` times in a row."""
    raw = await kv.get(TROUBLE_KEY)
    if not isinstance(raw, dict) or int(raw.get("failures", 0)) < TROUBLE_AFTER:
        return None
    return IntakeTrouble(
        failures=int(raw["failures"]),
        since=datetime.fromisoformat(str(raw["since"])),
        code=str(raw.get("code", "")),
        refused=bool(raw.get("refused")),
    )


class OfflineIntake:
    """Pulls the application's offline queue into the inbox while the application is installed."""

    def __init__(
        self,
        portal: PortalClient,
        inbox: InboxRepository,
        kv: KeyValueRepository,
        *,
        active: Callable[[], Awaitable[bool]],
        interval: float,
        batch: int,
        on_stored: Callable[[], None],
        on_catalog_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._portal = portal
        self._inbox = inbox
        self._kv = kv
        self._active = active
        self._interval = interval
        self._batch = batch
        self._on_stored = on_stored
        self._on_catalog_changed = on_catalog_changed
        self._wake = asyncio.Event()
        self._orphans: list[str] | None = None
        self.read = 0
        """Queue records read (a re-read batch counts again)."""
        self.stored = 0
        """Inbox rows that were new."""

    def wake(self) -> None:
        """Pull now (after an installation) instead of at the next interval."""
        self._wake.set()

    async def pull_once(self) -> int:
        """Drain the queue batch by batch; returns how many records it read."""
        total = 0
        while await self._active():
            if self._orphans is None:
                self._orphans = await self._reserved()
            pending = await self._kv.get(PROCESS_KEY)
            if not isinstance(pending, str) and self._orphans:
                pending = self._orphans.pop()
                await self._kv.set(PROCESS_KEY, pending, durable=True)
            method = (
                GetOfflineEvents(clear=0, process_id=pending, limit=self._batch)
                if isinstance(pending, str)
                else GetOfflineEvents(clear=0, limit=self._batch)
            )
            batch = await self._portal(method, lane=Lane.BACKGROUND)
            if batch.process_id is None or not batch.events:
                if isinstance(pending, str):
                    await self._kv.delete(PROCESS_KEY)
                    continue  # the remembered batch was cleared already; read fresh ones
                return total
            await self._kv.set(PROCESS_KEY, batch.process_id, durable=True)
            unusable = await self._store(batch.events)
            if unusable:
                # Kept by the portal as errors (readable with error=1), out of the way.
                await self._portal(
                    FailOfflineEvents(process_id=batch.process_id, message_id=unusable),
                    lane=Lane.BACKGROUND,
                )
            await self._portal(
                ClearOfflineEvents(process_id=batch.process_id), lane=Lane.BACKGROUND
            )
            await self._kv.delete(PROCESS_KEY)
            total += len(batch.events)
            if len(batch.events) < self._batch:
                return total
        return total

    async def _reserved(self) -> list[str]:
        """Process ids of reservations still in the queue (reserved rows sort first)."""
        found: list[str] = []
        for page in range(RECOVERY_PAGES):
            rows = await self._portal(
                ListOfflineEvents(order={"PROCESS_ID": "DESC"}, start=page * LIST_PAGE),
                lane=Lane.BACKGROUND,
            )
            found += [r.process_id for r in rows if r.process_id and not r.error]
            if len(rows) < LIST_PAGE or not rows[-1].process_id:
                break
        if found:
            log.warning(
                "offline events: %d reserved records found; reading them again", len(found)
            )
        return list(dict.fromkeys(found))

    async def _store(self, records: list[OfflineEvent]) -> list[str]:
        """Store the lead events; returns the message ids of records that are not one."""
        rows = []
        unusable = []
        fields_changed = False
        for record in records:
            if record.event_name.upper() in USERFIELD_EVENTS:
                # A lead field was added, changed or removed: the form and the card read the
                # fields again. Nothing goes to the inbox; the record is cleared with the batch.
                fields_changed = True
                continue
            row = inbox_row(record)
            if row is None:
                log.warning("offline event %s is not a lead's change", record.event_name[:40])
                unusable.append(record.message_id)
                continue
            rows.append(row)
        self.read += len(records)
        if fields_changed:
            self._on_catalog_changed()
        new = sum(await self._inbox.add_many(rows, durable=True))
        self.stored += new
        if new:
            self._on_stored()
        return unusable

    async def run(self) -> None:
        """Pull every `interval` seconds (or when woken) until cancelled."""
        failures = 0
        since = utc_now()
        while True:
            try:
                await self.pull_once()
                if failures:
                    await self._kv.delete(TROUBLE_KEY)
                failures = 0
            except PortalError as exc:
                failures += 1
                code = exc.code or type(exc).__name__
                log.warning("offline events pull failed (%d in a row): %s", failures, code)
                since = utc_now() if failures == 1 else since
                # Kept where /status (on any replica) reads it.
                await self._kv.set(
                    TROUBLE_KEY,
                    {
                        "failures": failures,
                        "since": since.isoformat(),
                        "code": code[:64],
                        "refused": isinstance(exc, AuthError),
                    },
                )
            self._wake.clear()
            # A portal that keeps refusing (revoked tokens after an uninstall the bot did not
            # hear of, an outage) is asked less and less often, up to every MAX_BACKOFF.
            wait = min(self._interval * 2**failures, MAX_BACKOFF_SECONDS)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
