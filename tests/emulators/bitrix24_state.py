"""Shared state of the Bitrix24 emulator, and the records its areas keep.

`EmulatorState` holds everything a portal instance stores; the areas (`bitrix24_area_*`) are
mixins over it, and `Bitrix24Emulator` composes them. An area reaches another one through
`self.portal` (the composed emulator), so every call across areas is visible and typed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, cast

from aiohttp import web

from tests.emulators.bitrix24_crm import (
    CONTACT_FIELDS,
    DEAL_FIELDS,
    DEFAULT_PRODUCTS,
    LEAD_FIELDS,
    PRODUCT_FIELDS,
    CrmTable,
    IdSequence,
    StatusDictionary,
    format_datetime,
    seed_default_dictionaries,
    utc_offset,
)
from tests.emulators.bitrix24_events import EventDispatcher, OfflineQueue
from tests.emulators.bitrix24_robots import RobotRegistry
from tests.emulators.bitrix24_userfields import LeadUserFields

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import Bitrix24Emulator

COUNT_SECONDS_PER_ROW = (49.9 - 0.097) / 2_387_743
"""What counting a list call's matches cost a portal, per row: the reference's measurement
(performance, "Retrieve Large Volumes of Data"), 49.9 s with the count and 0.097 s without
for 2,387,743 leads. About 21 microseconds."""


@dataclass
class CallRecord:
    """One HTTP request that reached /rest/ (a batch is one record)."""

    method: str
    arrived_at: float
    status: int = 0
    rejected_by_limit: bool = False
    auth_kind: str = "none"
    params: dict[str, Any] = field(default_factory=dict)
    batch_methods: list[str] = field(default_factory=list)
    fault: str | None = None


@dataclass
class IncomingWebhook:
    """An incoming webhook credential: /rest/{user_id}/{secret}/."""

    user_id: int
    secret: str
    scopes: set[str]


@dataclass
class AccessToken:
    """An OAuth access token issued by the emulator."""

    user_id: int
    expires_at: float
    expired: bool = False


@dataclass
class AuthContext:
    """Who is calling: webhook or OAuth, as which user, with which scopes."""

    kind: str
    user_id: int
    scopes: set[str]
    credential: str


@dataclass
class Faults:
    """Fault injection for /rest/ requests; counters are consumed one request at a time."""

    latency: float = 0.0
    lose_events: bool = False
    fail_count: int = 0
    fail_status: int = 500
    drop_count: int = 0
    drop_after_execute_count: int = 0
    malformed_count: int = 0
    slow: dict[str, float] = field(default_factory=dict)
    """Method → seconds: the request waits that long, then runs (even if the client left)."""
    refusals: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    """Method → (error code, description, HTTP status) answered instead of running it."""

    def slow_method(self, method: str, seconds: float) -> None:
        """Hold every `method` request `seconds` before running it, as a busy portal does.

        The request still runs when the client has hung up meanwhile: a real portal finishes
        a request it started.
        """
        self.slow[method.lower()] = seconds

    def refuse_method(self, method: str, code: str, description: str, status: int = 403) -> None:
        """Answer every `method` request (also inside a batch) with this error."""
        self.refusals[method.lower()] = (code, description, status)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next n requests with a bare 5xx without executing them."""
        self.fail_count = n
        self.fail_status = status

    def drop_next(self, n: int = 1) -> None:
        """Close the connection of the next n requests without executing them."""
        self.drop_count = n

    def drop_after_execute_next(self, n: int = 1) -> None:
        """Execute the next n requests, then close the connection without answering."""
        self.drop_after_execute_count = n

    def malformed_next(self, n: int = 1) -> None:
        """Answer the next n requests with 200 and a non-JSON body, not executing them."""
        self.malformed_count = n

    def clear(self) -> None:
        """Switch every fault off."""
        self.latency = 0.0
        self.lose_events = False
        self.fail_count = self.drop_count = 0
        self.drop_after_execute_count = self.malformed_count = 0
        self.slow.clear()
        self.refusals.clear()


class EmulatorState:
    """Everything one emulated portal stores; see `Bitrix24Emulator` for the knobs."""

    @property
    def portal(self) -> Bitrix24Emulator:
        """This emulator with every area: how one area calls another."""
        return cast("Bitrix24Emulator", self)

    def __init__(
        self,
        rate_limit: bool = False,
        drain_per_second: float = 2.0,
        burst: int = 50,
        webhook_user_id: int = 1,
        webhook_secret: str = "emusecret0001",  # noqa: S107
        application_token: str = "apptoken0001",  # noqa: S107
        member_id: str = "memb0001",
        domain: str = "emulator.bitrix24.test",
        *,
        webhook_scopes: Iterable[str] = ("crm", "user", "basic"),
        oauth_scopes: Iterable[str] = ("crm", "placement", "user", "bizproc", "basic"),
        client_id: str = "local.emulator.app",
        client_secret: str = "emuclientsecret",  # noqa: S107
        utc_offset_hours: float = 3.0,
        base_currency: str = "RUB",
        seed_users: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_limit = rate_limit
        self.drain_per_second = drain_per_second
        self.burst = burst
        self.webhook_user_id = webhook_user_id
        self.webhook_secret = webhook_secret
        self.application_token = application_token
        self.member_id = member_id
        self.domain = domain
        self.client_id = client_id
        self.client_secret = client_secret
        self.oauth_scopes = set(oauth_scopes) | {"basic"}
        self.tz: timezone = utc_offset(utc_offset_hours)
        self.base_currency = base_currency
        self.clock = clock
        self.wall_clock = wall_clock

        self.incoming_webhooks: dict[str, IncomingWebhook] = {
            webhook_secret: IncomingWebhook(
                webhook_user_id, webhook_secret, set(webhook_scopes) | {"basic"}
            )
        }
        self.faults = Faults()
        self._late_requests: set[asyncio.Future[Any]] = set()
        self.simple_mode = False
        # Portal renamed: every /rest/ call answers 302 to this base URL (e.g. another emulator).
        self.moved_to: str | None = None
        self.retry_failed_deliveries = False
        self.check_required_user_fields = True
        # Standard lead fields an admin made required (isRequired:true, enforced on add).
        self.required_lead_fields: set[str] = set()
        # §3.6: the source raises an application exception, the docs say "Not found".
        self.lead_delete_not_found: tuple[str, str] = ("", "Not found")
        self.operating_limit: float = 480.0
        # Server time spent on every `*.list` command (in or out of a batch) before answering.
        self.list_server_time: float = 0.0
        # Server time per row a list call counts: with start >= 0 the portal counts every match
        # for `total`, without it (start=-1) it does not. The reference (performance,
        # "Retrieve Large Volumes of Data") measured 49.9 s against 0.097 s for 2,387,743 leads,
        # about 21 microseconds a row (COUNT_SECONDS_PER_ROW); 0 unless a bench or test sets it.
        self.count_server_time_per_row: float = 0.0
        self.server_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        # The reference refuses a request when the counter is above the burst; an independent
        # reading refuses it at the burst already.
        self.refuse_at_burst = False
        # A batch command whose whole-value `$result[...]` does not resolve: "keep" passes the
        # deepest node reached, "error" answers an error for it, "empty" answers [].
        self.unresolved_references: Literal["keep", "error", "empty"] = "keep"
        self.operating_cost: float | None = None
        self.operating_costs: dict[str, float] = {}

        self.calls: list[CallRecord] = []
        # Requests being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self.executed: list[str] = []
        self.events = EventDispatcher(
            self.portal._event_auth,
            lambda: self.wall_clock(),
            lambda: self.faults.lose_events,
            lambda: self.retry_failed_deliveries,
        )
        self.offline = OfflineQueue(lambda: self.wall_clock())
        # event.offline.get with clear=0 needs the "extended offline events" licence.
        self.offline_extended = True
        # The local application (OAuth): installed unless a test uninstalls it; app.info VERSION.
        self.app_installed = True
        self.app_version = 1
        self._origin: tuple[str, str] | None = None
        # The application's automation rules, and the host its handlers must be on.
        self.robots = RobotRegistry()
        self.app_handler_host: str | None = None

        self.users: dict[int, dict[str, Any]] = {}
        self.batch_memo: dict[Any, Any] | None = None
        """What one `batch` request's commands share while it runs (see `batch`)."""
        self.admin_ids: set[int] = set()
        self.statuses = StatusDictionary()
        seed_default_dictionaries(self.statuses)
        self.lead_user_fields = LeadUserFields()
        self.multifield_ids = IdSequence(1)
        self.leads_table = CrmTable(
            "LEAD",
            LEAD_FIELDS,
            self.tz,
            user_fields=self.portal._lead_user_fields,
            sort_key_for=self.portal._lead_sort_key,
        )
        self.contacts_table = CrmTable("CONTACT", CONTACT_FIELDS, self.tz, default_select_uf=True)
        self.deals_table = CrmTable("DEAL", DEAL_FIELDS, self.tz)
        self.products_table = CrmTable("PRODUCT", PRODUCT_FIELDS, self.tz)
        self.companies: dict[int, dict[str, Any]] = {}
        self.lead_contacts: dict[int, list[dict[str, Any]]] = {}
        self.product_rows: dict[int, list[dict[str, Any]]] = {}
        self._product_row_ids = IdSequence(1)
        self.timeline_comments: dict[int, dict[str, Any]] = {}
        self._comment_ids = IdSequence(1)
        self.details_configuration: dict[tuple[str, int, int], list[Any]] = {}

        self._bucket_level = 0.0
        self._bucket_at: float | None = None
        self._operating: dict[tuple[str, str], dict[int, float]] = {}
        self._access_tokens: dict[str, AccessToken] = {}
        # Every token and application token handed out, revoked or not (no-secrets-in-logs).
        self.issued_credentials: list[str] = []
        self._refresh_tokens: dict[str, int] = {}
        self._auth_codes: dict[str, int] = {}

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        for index, (name, price, currency) in enumerate(DEFAULT_PRODUCTS):
            self.portal.add_product(name, price, currency, sort=(index + 1) * 10)
        if seed_users:
            self.portal.seed_default_users()

    # ------------------------------------------------------------------ clocks and helpers

    def rows_counted(self) -> int:
        """Rows every list call that counted its matches has counted so far."""
        tables = [self.leads_table, self.contacts_table, self.deals_table, self.products_table]
        activities: CrmTable | None = getattr(self, "_activities_table", None)
        if activities is not None:
            tables.append(activities)
        return sum(table.rows_counted for table in tables)

    def now(self) -> datetime:
        """Portal-local now."""
        return datetime.fromtimestamp(self.wall_clock(), self.tz)

    def now_text(self) -> str:
        """Portal-local now as the REST renders datetimes."""
        return format_datetime(self.now(), self.tz)

    @property
    def leads(self) -> dict[int, dict[str, Any]]:
        """Stored leads keyed by id, in the shape crm.lead.get returns (strings, multifields)."""
        return self.leads_table.rows

    @property
    def contacts(self) -> dict[int, dict[str, Any]]:
        """Stored contacts keyed by id."""
        return self.contacts_table.rows

    @property
    def deals(self) -> dict[int, dict[str, Any]]:
        """Stored deals keyed by id (created by simple-mode conversion)."""
        return self.deals_table.rows

    @property
    def products(self) -> dict[int, dict[str, Any]]:
        """The product catalogue keyed by id."""
        return self.products_table.rows

    def count_calls(self, method: str | None = None) -> int:
        """HTTP requests received (optionally only those for one method, case-insensitive)."""
        if method is None:
            return len(self.calls)
        wanted = method.lower()
        return sum(1 for c in self.calls if c.method == wanted)

    def count_executed(self, method: str | None = None) -> int:
        """Method executions, including batch sub-commands."""
        if method is None:
            return len(self.executed)
        wanted = method.lower()
        return sum(1 for m in self.executed if m == wanted)
