"""The workers that must run alone run on one replica of several: whoever holds the lease.

The catch-up poller keeps one watermark; retention, reminders, nudges, digests, escalations
and the application's offline queue each assume nobody else does their round. Every replica
takes portal events and Telegram updates (into the shared inbox and dialog state); with Redis
every replica also processes events and sends (claiming rows, `bot.storage.claims`), without it
the leader does that too, since each replica would pace Telegram's and the portal's limits
alone. When the leader stops, it lets the lease go; when it dies, the lease runs out and
another replica takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from bot.storage.db import DATABASE_ERRORS
from bot.storage.leases import LeaseRepository

log = logging.getLogger(__name__)

LEASE_NAME = "workers"
LEASE_SECONDS = 6.0
RENEW_SECONDS = 2.0
"""A dead leader's workers start elsewhere within about LEASE_SECONDS + RENEW_SECONDS (8 s):
the lease runs out, and each follower tries for it every RENEW_SECONDS. The leader renews three
times per lease, so one slow round does not lose it."""

SAFETY_SECONDS = 1.0
"""A leader stops its workers this long before its lease could lapse when no renewal came back:
a renewal stuck behind a busy database must not leave two replicas sending."""

WorkerFactory = Callable[[], Coroutine[Any, Any, None]]


def replica_name() -> str:
    """This process among the replicas: host, pid and a random part (pids repeat in containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    """Renews the lease; runs the workers while it holds it, stops them when it loses it."""

    def __init__(
        self,
        leases: LeaseRepository,
        workers: list[WorkerFactory],
        *,
        holder: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self._workers = workers
        self.holder = holder or replica_name()
        self._lease = timedelta(seconds=lease_seconds)
        self._renew = renew_seconds
        self._monotonic = monotonic
        self._running: list[asyncio.Task[None]] = []
        self._valid_until = 0.0
        """While leading: the monotonic moment before which the lease surely holds (the start
        of the last renewal that came back, plus the lease)."""
        self.stepped_down = 0
        """Times the workers were stopped because a renewal did not come back in time."""

    @property
    def leading(self) -> bool:
        """Whether this replica runs the workers now."""
        return bool(self._running)

    async def run(self) -> None:
        """Hold (or wait for) the lease until cancelled; the lease is let go on the way out."""
        try:
            while True:
                await self._round()
                wait = self._renew
                if self._running:
                    # Renew before the lease could lapse, however the last round went.
                    wait = min(wait, max(0.0, self._deadline() - self._monotonic()))
                await asyncio.sleep(wait)
        finally:
            await self._stop_workers()
            with contextlib.suppress(*DATABASE_ERRORS):
                await asyncio.shield(self._leases.release(LEASE_NAME, self.holder))

    def _deadline(self) -> float:
        """When a leader whose renewal has not come back stops its workers."""
        return self._valid_until - SAFETY_SECONDS

    async def _round(self) -> None:
        started = self._monotonic()
        try:
            if self._running:
                # A renewal that waits past the deadline (a busy database, a slow loop) stops
                # the workers first: the lease may be another replica's by the time it returns.
                async with asyncio.timeout(max(0.0, self._deadline() - started)):
                    held = await self._leases.acquire(LEASE_NAME, self.holder, self._lease)
            else:
                held = await self._leases.acquire(LEASE_NAME, self.holder, self._lease)
        except TimeoutError:
            log.warning("the workers' lease was not renewed in time; stopping the workers")
            self.stepped_down += 1
            held = False
        except DATABASE_ERRORS as exc:
            # Unsure whether the lease still holds: stop rather than risk a second leader.
            log.warning("could not renew the workers' lease: %s", type(exc).__name__)
            held = False
        if held:
            self._valid_until = started + self._lease.total_seconds()
        if held and not self._running:
            log.info("this replica runs the background workers now")
            self._running = [asyncio.create_task(worker()) for worker in self._workers]
        elif not held and self._running:
            log.info("another replica runs the background workers now")
            await self._stop_workers()

    async def _stop_workers(self) -> None:
        tasks, self._running = self._running, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
