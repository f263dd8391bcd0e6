"""The background workers of several replicas run on one of them: whoever holds the lease.

The event processor, the outbox sender and the catch-up poller each assume they are alone:
the sender paces every chat and the whole token in memory, the poller keeps one watermark.
Telegram's limits are per bot, not per replica, so spreading them would buy nothing. Every
replica takes portal events and Telegram updates (into the shared inbox and dialog state);
one replica, the leader, drains them. When the leader stops, it lets the lease go; when it
dies, the lease runs out and another replica takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
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
    ) -> None:
        self._leases = leases
        self._workers = workers
        self.holder = holder or replica_name()
        self._lease = timedelta(seconds=lease_seconds)
        self._renew = renew_seconds
        self._running: list[asyncio.Task[None]] = []

    @property
    def leading(self) -> bool:
        """Whether this replica runs the workers now."""
        return bool(self._running)

    async def run(self) -> None:
        """Hold (or wait for) the lease until cancelled; the lease is let go on the way out."""
        try:
            while True:
                await self._round()
                await asyncio.sleep(self._renew)
        finally:
            await self._stop_workers()
            with contextlib.suppress(*DATABASE_ERRORS):
                await asyncio.shield(self._leases.release(LEASE_NAME, self.holder))

    async def _round(self) -> None:
        try:
            held = await self._leases.acquire(LEASE_NAME, self.holder, self._lease)
        except DATABASE_ERRORS as exc:
            # Unsure whether the lease still holds: stop rather than risk a second leader.
            log.warning("could not renew the workers' lease: %s", type(exc).__name__)
            held = False
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
