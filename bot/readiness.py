"""Readiness: whether the database, the portal and Telegram (and Redis, when the replicas share
one) are usable and the queues move.

The portal and Telegram are judged from the outcome of the bot's own recent calls (hooks on the
portal client and on the Telegram session). Only when nothing was heard from one of them for
`check_seconds` does a readiness request make one cheap call itself, so probing never adds more
than one request per `check_seconds` to the portal's budget, however often `/readyz` is asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.portal import PortalError
from bot.storage import Database
from bot.storage.timestamps import Clock, from_db_time, to_db_time, utc_now

PROBE_TIMEOUT_SECONDS = 5.0
"""A probe or the database check slower than this counts as "no answer"."""

Probe = Callable[[], Awaitable[object]]


class Reachability:
    """What the latest call to one remote service said: usable or not, and why not."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.ok: bool | None = None
        self.problem: str | None = None
        self._at: float | None = None

    def success(self) -> None:
        """The service answered usefully."""
        self.ok, self.problem, self._at = True, None, self._clock()

    def failure(self, problem: str) -> None:
        """The service did not answer, or refused us; `problem` says how (no personal data)."""
        self.ok, self.problem, self._at = False, problem, self._clock()

    def age(self) -> float | None:
        """Seconds since the last outcome, None if nothing was heard yet."""
        return None if self._at is None else self._clock() - self._at

    def observe_portal(self, method: str, status: int, limited: bool) -> None:
        """A `PortalClient(on_request=...)` hook: status 0 is a request that got no answer."""
        if status == 0:
            self.failure("no answer")
        elif status in (401, 403):
            self.failure(f"credentials refused (HTTP {status})")
        elif status >= 500 and not limited:
            self.failure(f"HTTP {status}")
        else:  # a 503 QUERY_LIMIT_EXCEEDED is a busy portal, not a broken one
            self.success()


class TelegramReachabilityMiddleware(BaseRequestMiddleware):
    """Session middleware telling a `Reachability` how each Bot API call ended."""

    def __init__(self, reachability: Reachability) -> None:
        self._reachability = reachability

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Run the call and record whether Telegram was usable."""
        try:
            response = await make_request(bot, method)
        except TelegramUnauthorizedError:
            self._reachability.failure("token refused")
            raise
        except (TelegramNetworkError, TelegramServerError) as exc:
            self._reachability.failure(type(exc).__name__)
            raise
        except TelegramAPIError:
            self._reachability.success()  # Telegram answered; the request itself was refused
            raise
        self._reachability.success()
        return response


class Readiness:
    """Builds the `/readyz` report; see the module docstring for how it stays cheap."""

    def __init__(
        self,
        *,
        db: Database,
        portal: Reachability,
        telegram: Reachability,
        portal_probe: Probe,
        telegram_probe: Probe,
        check_seconds: float,
        queue_age_seconds: float,
        redis_probe: Probe | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._db = db
        self._redis_probe = redis_probe
        self.portal = portal
        self.telegram = telegram
        self._probes = {"portal": portal_probe, "telegram": telegram_probe}
        self._check_seconds = check_seconds
        self._queue_age_seconds = queue_age_seconds
        self._clock = clock
        self._locks = {"portal": asyncio.Lock(), "telegram": asyncio.Lock()}

    async def report(self) -> dict[str, Any]:
        """`{"ready": bool, "checks": {name: {"ok": bool, ...}}}`; ready when every check is ok."""
        checks: dict[str, dict[str, Any]] = {"database": await self._database()}
        if self._redis_probe is not None:
            checks["redis"] = await self._local(self._redis_probe)
        if checks["database"]["ok"]:
            checks.update(await self._queues())
        for name, reach in (("portal", self.portal), ("telegram", self.telegram)):
            checks[name] = await self._remote(name, reach)
        return {"ready": all(check["ok"] for check in checks.values()), "checks": checks}

    async def _database(self) -> dict[str, Any]:
        return await self._local(lambda: self._db.fetch_one("SELECT 1"))

    async def _local(self, probe: Probe) -> dict[str, Any]:
        """A store of the bot's own (the database, Redis): asked at every report."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await probe()
        except TimeoutError:
            return {"ok": False, "problem": f"busy for over {PROBE_TIMEOUT_SECONDS:g} s"}
        except Exception as exc:  # a closed or broken store: say so, never crash
            return {"ok": False, "problem": type(exc).__name__}
        return {"ok": True}

    async def _queues(self) -> dict[str, dict[str, Any]]:
        now = self._clock()
        # The partial index inbox_unprocessed makes this one index step.
        inbox = await self._db.fetch_one(
            "SELECT received_at FROM inbox WHERE processed_at IS NULL ORDER BY id LIMIT 1"
        )
        # Messages waiting for a later retry are not stuck; only overdue ones count.
        outbox = await self._db.fetch_one(
            "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' "
            "AND next_attempt_at <= ?",
            (to_db_time(now),),
        )
        return {
            "inbox": self._queue(now, inbox[0] if inbox else None),
            "outbox": self._queue(now, outbox[0] if outbox else None),
        }

    def _queue(self, now: datetime, oldest: str | None) -> dict[str, Any]:
        age = 0.0 if oldest is None else max(0.0, (now - from_db_time(oldest)).total_seconds())
        check: dict[str, Any] = {"ok": age <= self._queue_age_seconds, "oldest_pending_s": age}
        if not check["ok"]:
            check["problem"] = f"oldest pending item waits {age:.0f} s"
        return check

    async def _remote(self, name: str, reach: Reachability) -> dict[str, Any]:
        async with self._locks[name]:  # concurrent /readyz calls share one probe
            age = reach.age()
            if age is None or age > self._check_seconds:
                await self._probe(name, reach)
        check: dict[str, Any] = {"ok": bool(reach.ok), "checked_s_ago": reach.age()}
        if reach.problem:
            check["problem"] = reach.problem
        return check

    async def _probe(self, name: str, reach: Reachability) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await self._probes[name]()
        except TimeoutError:
            reach.failure(f"no answer within {PROBE_TIMEOUT_SECONDS:g} s")
        except PortalError as exc:
            reach.failure(exc.code or type(exc).__name__)
        except TelegramAPIError:
            pass  # the session middleware has recorded how the call ended
        except Exception as exc:  # whatever else went wrong, readiness answers, never crashes
            reach.failure(type(exc).__name__)
        else:
            reach.success()
