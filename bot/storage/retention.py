"""Retention: processed events, sent notifications, bot actions, lead claims, handled
Telegram updates and the records of their portal writes age out.

Rows go in small chunks, one short transaction each, with a pause between chunks, so the
event endpoint (which needs the same write lock to acknowledge) never waits long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.storage.inbox import InboxRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.snapshots import SnapshotRepository
from bot.storage.timestamps import Clock, utc_now
from bot.storage.updates import UpdateRepository
from bot.storage.writes import WriteRecordRepository

log = logging.getLogger(__name__)

PAUSE_BETWEEN_CHUNKS_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of row is kept, and how many rows one transaction deletes."""

    inbox: timedelta
    outbox: timedelta
    bot_actions: timedelta
    lead_claims: timedelta
    chunk_rows: int = 200
    telegram_updates: timedelta = timedelta(days=7)


@dataclass(slots=True)
class PruneReport:
    """Rows deleted by one round, per table."""

    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows deleted in every table."""
        return sum(self.deleted.values())


class Retention:
    """Deletes rows older than the policy allows, a chunk at a time."""

    def __init__(
        self,
        *,
        inbox: InboxRepository,
        outbox: OutboxRepository,
        snapshots: SnapshotRepository,
        policy: RetentionPolicy,
        updates: UpdateRepository | None = None,
        writes: WriteRecordRepository | None = None,
        clock: Clock = utc_now,
        pause_seconds: float = PAUSE_BETWEEN_CHUNKS_SECONDS,
    ) -> None:
        self._updates = updates
        self._writes = writes
        self._inbox = inbox
        self._outbox = outbox
        self._snapshots = snapshots
        self._policy = policy
        self._clock = clock
        self._pause = pause_seconds

    async def prune_once(self) -> PruneReport:
        """One round over every table; returns how many rows went from each."""
        now = self._clock()
        limit = self._policy.chunk_rows
        tasks: dict[str, Callable[[datetime], Awaitable[int]]] = {
            "inbox": lambda before: self._inbox.prune(processed_before=before, limit=limit),
            # The outbox deletes in chunks of its own, each in a short transaction.
            "outbox": lambda before: self._outbox.prune(sent_before=before),
            "bot_actions": lambda before: self._snapshots.prune_bot_actions(
                before=before, limit=limit
            ),
            "lead_claims": lambda before: self._snapshots.prune_claims(before=before, limit=limit),
        }
        ages = {
            "inbox": self._policy.inbox,
            "outbox": self._policy.outbox,
            "bot_actions": self._policy.bot_actions,
            "lead_claims": self._policy.lead_claims,
        }
        if self._updates is not None:
            updates = self._updates
            # Handled update ids: a re-delivery older than this is no longer recognised.
            tasks["telegram_updates"] = lambda before: updates.prune(
                handled_before=before, limit=limit
            )
            ages["telegram_updates"] = self._policy.telegram_updates
        if self._writes is not None:
            writes = self._writes
            # Records of the portal writes updates made: kept as long as the updates' ids.
            tasks["write_records"] = lambda before: writes.prune(before=before, limit=limit)
            ages["write_records"] = self._policy.telegram_updates
        report = PruneReport()
        for table, prune in tasks.items():
            before = now - ages[table]
            deleted = 0
            while True:
                went = await prune(before)
                deleted += went
                if went < limit:
                    break
                await asyncio.sleep(self._pause)
            report.deleted[table] = deleted
        if report.total:
            log.info("retention deleted %s", report.deleted)
        return report

    async def run(self, interval_seconds: float) -> None:
        """Prune every `interval_seconds` until cancelled."""
        while True:
            try:
                await self.prune_once()
            except Exception:  # a failed round is retried at the next one
                log.exception("retention round failed")
            await asyncio.sleep(interval_seconds)
