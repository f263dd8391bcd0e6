"""The bot's health at a glance: portal, CRM mode, request budget, queues, event intake."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.metrics import MetricsRegistry
from bot.portal import CrmMode, Lane, PortalClient, PortalError
from bot.storage import Database, KeyValueRepository
from bot.storage.inbox import InboxRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from bot.storage.timestamps import utc_now

if TYPE_CHECKING:  # application mode's, imported by the bot only when it is on
    from bot.events.offline import IntakeTrouble
    from bot.install.installation import Installation, InstallationStore

WATERMARK_KEY = "events.poll_watermark"
RATE_LIMITED_METRIC = "bot_portal_rate_limited_total"


@dataclass(frozen=True)
class WebhookState:
    """What Telegram says about our webhook."""

    url: str
    pending_updates: int
    last_error: str | None


@dataclass(frozen=True)
class StatusReport:
    """Everything /status shows an admin."""

    portal_ok: bool
    portal_problem: str | None
    crm_mode: CrmMode | None
    budget_used: float
    burst: int
    drain_per_second: float
    rate_limited_total: int
    inbox_pending: int
    outbox_pending: int
    dead_letters: int
    last_event_at: datetime | None
    watermark: datetime | None
    webhook: WebhookState | None
    checked_at: datetime
    application_mode: bool = False
    installation: Installation | None = None
    """In application mode: the installation record (None before the first installation)."""
    offline_trouble: IntakeTrouble | None = None
    """In application mode: the offline queue's reads failing in a row, if they are."""


class CrmModeWatch:
    """The portal's CRM mode, read at most every `ttl` seconds (leads exist only in classic)."""

    def __init__(
        self,
        portal: PortalClient,
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._portal = portal
        self._ttl = ttl
        self._clock = clock
        self._mode: CrmMode | None = None
        self._read_at = 0.0

    async def mode(self, *, lane: Lane = Lane.INTERACTIVE, fresh: bool = False) -> CrmMode:
        """The current mode; a failed read keeps the last known one (unless `fresh`)."""
        if fresh or self._mode is None or self._clock() - self._read_at >= self._ttl:
            try:
                self._mode = await self._portal.crm_mode(lane=lane)
                self._read_at = self._clock()
            except PortalError:
                if self._mode is None or fresh:
                    raise
        return self._mode

    async def leads_enabled(self) -> bool:
        """False in simple CRM mode, where a new lead turns into a deal at once."""
        return await self.mode() is CrmMode.CLASSIC


async def collect_status(
    *,
    portal: PortalClient,
    crm: CrmModeWatch,
    db: Database,
    rate_limited_total: int,
    webhook_info: Callable[[], Awaitable[WebhookState]] | None,
    installation: InstallationStore | None = None,
) -> StatusReport:
    """Read every figure of the report; a portal failure is part of it, not an error."""
    portal_ok, problem, mode = True, None, None
    try:
        mode = await crm.mode(fresh=True)  # doubles as the portal's reachability check
    except PortalError as exc:
        portal_ok, problem = False, exc.code or type(exc).__name__
    bucket = portal.limiter.bucket
    # Each count reads a partial index (pending events, pending and dead messages) and the
    # newest event is the last row by id: nothing here scans the history of either table.
    inbox = InboxRepository(db)
    outbox = OutboxRepository(db)
    inbox_pending = await inbox.pending_count()
    last_event_at = await inbox.last_received_at()
    outbox_pending = await outbox.count("pending")
    dead_letters = await outbox.count("dead")
    kv = KeyValueRepository(db)
    watermark = await kv.get(WATERMARK_KEY)
    installed: Installation | None = None
    offline_trouble: IntakeTrouble | None = None
    if installation is not None:
        from bot.events.offline import intake_trouble

        installed = await installation.get()
        offline_trouble = await intake_trouble(kv)
    return StatusReport(
        portal_ok=portal_ok,
        portal_problem=problem,
        crm_mode=mode,
        budget_used=portal.limiter.level(),
        burst=bucket.burst,
        drain_per_second=bucket.drain_per_second,
        rate_limited_total=rate_limited_total,
        inbox_pending=inbox_pending,
        outbox_pending=outbox_pending,
        dead_letters=dead_letters,
        last_event_at=last_event_at,
        watermark=datetime.fromisoformat(watermark) if isinstance(watermark, str) else None,
        webhook=await webhook_info() if webhook_info is not None else None,
        checked_at=utc_now(),
        application_mode=installation is not None,
        installation=installed,
        offline_trouble=offline_trouble,
    )


class StatusService:
    """What /status reports, read from the portal, the queues and the metrics."""

    def __init__(
        self,
        *,
        portal: PortalClient,
        crm: CrmModeWatch,
        db: Database,
        metrics: MetricsRegistry,
        subscriptions: SubscriptionRepository,
        installation: InstallationStore | None = None,
    ) -> None:
        self._installation = installation
        self._portal = portal
        self._crm = crm
        self._db = db
        self._metrics = metrics
        self._subscriptions = subscriptions

    async def report(
        self, webhook_info: Callable[[], Awaitable[WebhookState]] | None = None
    ) -> StatusReport:
        """The whole report; `webhook_info` reads Telegram's view in webhook mode."""
        return await collect_status(
            portal=self._portal,
            crm=self._crm,
            db=self._db,
            rate_limited_total=int(self._metrics.counter(RATE_LIMITED_METRIC).value()),
            webhook_info=webhook_info,
            installation=self._installation,
        )

    async def live_subscriptions(self, chat_id: int) -> int:
        """How many subscriptions of this chat are on (not paused, not disabled)."""
        return await self._subscriptions.live_count(chat_id)
