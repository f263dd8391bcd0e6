"""A Bitrix24 portal emulator: a real aiohttp server on 127.0.0.1 speaking REST v1 for CRM leads.

Behaviour follows shared/reference/bitrix24-leads-api.md (section 11 is the checklist); where the
docs and the server source disagree, the source wins. Run it standalone with
`python -m tests.emulators.bitrix24 --demo [--port N] [--rate-limit] [--event-handler URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from aiohttp import web

from tests.emulators.bitrix24_crm import (
    CONTACT_FIELDS,
    DEAL_FIELDS,
    DEFAULT_PRODUCTS,
    LEAD_FIELDS,
    PRODUCT_FIELDS,
    CrmError,
    CrmTable,
    IdSequence,
    StatusDictionary,
    format_datetime,
    format_money,
    is_unset,
    merge_multifields,
    normalize_scalar,
    normalize_user_field,
    seed_default_dictionaries,
    uf_value_present,
    utc_offset,
)
from tests.emulators.bitrix24_events import (
    KNOWN_EVENTS,
    LEAD_EVENTS,
    LEAD_USERFIELD_EVENTS,
    DeliveredEvent,
    EventDispatcher,
    EventHandlerRow,
    OfflineQueue,
)
from tests.emulators.bitrix24_methods import METHODS, MethodSpec
from tests.emulators.bitrix24_php import parse_pairs, php_int, php_json
from tests.emulators.bitrix24_userfields import (
    LeadUserFields,
    descriptor,
    event_data,
    field_label,
)

__all__ = [
    "DEFAULT_USERS",
    "KNOWN_EVENTS",
    "LEAD_EVENTS",
    "LEAD_USERFIELD_EVENTS",
    "AccessToken",
    "AuthContext",
    "Bitrix24Emulator",
    "CallRecord",
    "CrmError",
    "DeliveredEvent",
    "EventHandlerRow",
    "Faults",
    "IncomingWebhook",
    "main",
]

DEFAULT_USERS: list[dict[str, Any]] = [
    {
        "ID": 1,
        "NAME": "Anna",
        "LAST_NAME": "Admin",
        "EMAIL": "anna.admin@example.test",
        "PERSONAL_MOBILE": "+79160000001",
        "WORK_POSITION": "Administrator",
        "is_admin": True,
    },
    {
        "ID": 2,
        "NAME": "Ivan",
        "LAST_NAME": "Petrov",
        "EMAIL": "ivan.petrov@example.test",
        "PERSONAL_MOBILE": "+79161234567",
        "WORK_POSITION": "Sales representative",
    },
    {
        "ID": 3,
        "NAME": "Olga",
        "LAST_NAME": "Smirnova",
        "EMAIL": "olga.smirnova@example.test",
        "PERSONAL_MOBILE": "+79162345678",
        "WORK_PHONE": "+74951234567",
        "WORK_POSITION": "Sales manager",
    },
    {
        "ID": 4,
        "NAME": "Pavel",
        "LAST_NAME": "Former",
        "EMAIL": "pavel.former@example.test",
        "PERSONAL_MOBILE": "+79163456789",
        "WORK_POSITION": "Sales representative",
        "ACTIVE": False,
    },
]
"""Default portal users: 1 admin Anna Admin, 2 rep Ivan Petrov (+79161234567), 3 Olga Smirnova,
4 an inactive former employee."""


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


class Bitrix24Emulator:
    """A fake Bitrix24 portal (one portal per instance) served over loopback HTTP.

    Knobs (plain attributes, change them any time): rate_limit, burst, drain_per_second,
    clock (monotonic source of the leaky bucket), refuse_at_burst, wall_clock (unix time for
    dates, tokens and operating buckets), list_server_time, unresolved_references,
    operating_limit, operating_cost / operating_costs[method] (seconds
    charged per call instead of the measured time), faults, simple_mode, moved_to,
    retry_failed_deliveries, check_required_user_fields, required_lead_fields,
    lead_delete_not_found, offline_extended. A request rejected by the leaky bucket is not
    executed and does not add to the counter.
    """

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
        oauth_scopes: Iterable[str] = ("crm", "user", "basic"),
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
            self._event_auth,
            lambda: self.wall_clock(),
            lambda: self.faults.lose_events,
            lambda: self.retry_failed_deliveries,
        )
        self.offline = OfflineQueue(lambda: self.wall_clock())
        # event.offline.get with clear=0 needs the "extended offline events" licence.
        self.offline_extended = True
        self._origin: tuple[str, str] | None = None

        self.users: dict[int, dict[str, Any]] = {}
        self.admin_ids: set[int] = set()
        self.statuses = StatusDictionary()
        seed_default_dictionaries(self.statuses)
        self.lead_user_fields = LeadUserFields()
        self.multifield_ids = IdSequence(1)
        self.leads_table = CrmTable(
            "LEAD",
            LEAD_FIELDS,
            self.tz,
            user_fields=self._lead_user_fields,
            sort_key_for=self._lead_sort_key,
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
        self._refresh_tokens: dict[str, int] = {}
        self._auth_codes: dict[str, int] = {}

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        for index, (name, price, currency) in enumerate(DEFAULT_PRODUCTS):
            self.add_product(name, price, currency, sort=(index + 1) * 10)
        if seed_users:
            self.seed_default_users()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        """Bind 127.0.0.1 (a free port unless given) and start the delivery worker."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/rest/{tail:.*}", self._handle_rest)
        app.router.add_route("*", "/oauth/token/", self._handle_token)
        app.router.add_route("*", "/oauth/token", self._handle_token)
        app.router.add_route("*", "/_emulator/{action:.*}", self._handle_control)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.25
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        await self.events.start()

    async def stop(self) -> None:
        """Stop serving, cancel pending deliveries and late requests, close sockets."""
        await self.events.stop()
        for late in list(self._late_requests):
            late.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Bitrix24Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        """Incoming webhook base URL: .../rest/<user>/<secret>/"""
        return f"{self.base_url}/rest/{self.webhook_user_id}/{self.webhook_secret}/"

    @property
    def oauth_endpoint(self) -> str:
        """Token-auth REST base (client_endpoint)."""
        return f"{self.base_url}/rest/"

    @property
    def token_url(self) -> str:
        """OAuth token endpoint (refresh_token / authorization_code grants)."""
        return f"{self.base_url}/oauth/token/"

    # ------------------------------------------------------------------ clocks and helpers

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

    # ------------------------------------------------------------------ users

    def seed_default_users(self) -> None:
        """Add DEFAULT_USERS."""
        for spec in DEFAULT_USERS:
            data = dict(spec)
            self.add_user(
                user_id=int(data.pop("ID")),
                name=str(data.pop("NAME")),
                last_name=str(data.pop("LAST_NAME")),
                active=bool(data.pop("ACTIVE", True)),
                is_admin=bool(data.pop("is_admin", False)),
                **data,
            )

    def add_user(
        self,
        name: str,
        last_name: str = "",
        *,
        user_id: int | None = None,
        email: str | None = None,
        personal_mobile: str | None = None,
        work_phone: str | None = None,
        active: bool = True,
        is_admin: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add a portal user; extra keys (EMAIL, PERSONAL_MOBILE, UF_DEPARTMENT...) are stored."""
        new_id = user_id if user_id is not None else max(self.users, default=0) + 1
        registered = self.now_text()
        user: dict[str, Any] = {
            "ID": str(new_id),
            "XML_ID": None,
            "ACTIVE": active,
            "NAME": name,
            "LAST_NAME": last_name,
            "SECOND_NAME": "",
            "EMAIL": email or "",
            "LAST_LOGIN": registered,
            "DATE_REGISTER": registered,
            "TIME_ZONE": "",
            "IS_ONLINE": "N",
            "TIMESTAMP_X": registered,
            "PERSONAL_GENDER": "",
            "PERSONAL_PHONE": "",
            "PERSONAL_MOBILE": personal_mobile or "",
            "PERSONAL_CITY": "",
            "WORK_PHONE": work_phone or "",
            "WORK_POSITION": "",
            "UF_DEPARTMENT": [1],
            "USER_TYPE": "employee",
        }
        for key, value in extra.items():
            user[key.upper()] = value
        self.users[new_id] = user
        if is_admin:
            self.admin_ids.add(new_id)
        return user

    def is_admin(self, user_id: int) -> bool:
        """Whether the user is a portal administrator."""
        return user_id in self.admin_ids

    # ------------------------------------------------------------------ dictionaries

    def add_lead_stage(self, status_id: str, name: str, sort: int, color: str = "#ACE9FB") -> None:
        """Add a custom lead stage (semantics follow from SORT relative to CONVERTED)."""
        self.statuses.add("STATUS", status_id, name, sort, color=color)

    def add_product(
        self, name: str, price: float, currency: str = "RUB", *, sort: int = 100
    ) -> int:
        """Add a catalogue product; returns its id."""
        row: dict[str, Any] = {spec.name: None for spec in PRODUCT_FIELDS}
        row.update(
            {
                "NAME": name,
                "ACTIVE": "Y",
                "SORT": str(sort),
                "PRICE": format_money(price),
                "CURRENCY_ID": currency,
                "VAT_INCLUDED": "Y",
                "MEASURE": "9",
                "SECTION_ID": None,
            }
        )
        return self.products_table.insert(row)

    def _lead_sort_key(self, name: str, raw: Any) -> Any:
        if name != "STATUS_ID" or raw is None:
            return None
        entry = self.statuses.find("STATUS", str(raw))
        return int(entry["SORT"]) if entry else 0

    def lead_stage_ids(self) -> list[str]:
        """Lead stage ids in SORT order."""
        return [r["STATUS_ID"] for r in self.statuses.entries("STATUS")]

    # ------------------------------------------------------------------ user fields

    @property
    def user_fields(self) -> dict[int, dict[str, Any]]:
        """Lead user field records keyed by id (crm.lead.userfield.get shape)."""
        return self.lead_user_fields.fields

    def _lead_user_fields(self) -> dict[str, dict[str, Any]]:
        return self.lead_user_fields.by_name()

    def add_user_field(
        self, fields: Mapping[str, Any], *, fire: bool = True, user_id: int = 1
    ) -> int:
        """crm.lead.userfield.add semantics; returns the new field id."""
        record = self.lead_user_fields.add(fields)
        if fire:
            self.fire_event("ONCRMLEADUSERFIELDADD", event_data(record), user_id)
        return int(record["ID"])

    def update_user_field(
        self, field_id: int, fields: Mapping[str, Any], *, fire: bool = True, user_id: int = 1
    ) -> None:
        """crm.lead.userfield.update semantics."""
        record, enum_changed = self.lead_user_fields.update(field_id, fields)
        if fire:
            self.fire_event("ONCRMLEADUSERFIELDUPDATE", event_data(record), user_id)
            if enum_changed:
                self.fire_event("ONCRMLEADUSERFIELDSETENUMVALUES", event_data(record), user_id)

    def delete_user_field(self, field_id: int, *, fire: bool = True, user_id: int = 1) -> None:
        """crm.lead.userfield.delete semantics: the field and its values on all leads go."""
        record = self.lead_user_fields.delete(field_id)
        name = record["FIELD_NAME"]
        for row in self.leads_table.rows.values():
            row.pop(name, None)
        if fire:
            self.fire_event("ONCRMLEADUSERFIELDDELETE", event_data(record), user_id)

    def user_field_descriptor(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The crm.lead.fields descriptor of a user field."""
        return descriptor(record)

    # ------------------------------------------------------------------ leads

    def _apply_lead_fields(
        self,
        row: dict[str, Any],
        fields: Mapping[str, Any],
        *,
        is_add: bool,
        import_mode: bool,
        errors: list[str],
    ) -> dict[str, Any]:
        """Write incoming fields onto a row copy; returns meta about what was touched."""
        meta: dict[str, Any] = {"contact_ids": None, "touched": set()}
        ufs = self._lead_user_fields()
        importable = {"DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID"}
        for key, value in fields.items():
            spec = self.leads_table.fields.get(key)
            if key in ufs:
                uf = ufs[key]
                stored = normalize_user_field(uf, value, self.tz)
                if stored is None:
                    if not is_add and uf["MANDATORY"] == "Y" and self.check_required_user_fields:
                        errors.append(f'The "{field_label(uf)}" field is required.<br />')
                    row.pop(key, None)
                else:
                    row[key] = stored
                meta["touched"].add(key)
                continue
            if spec is None:
                continue
            if spec.type == "crm_multifield":
                row[key] = merge_multifields(row.get(key), value, key, self.multifield_ids) or None
                if row[key] is None:
                    del row[key]
                meta["touched"].add(key)
                continue
            if key == "CONTACT_IDS":
                ids = value if isinstance(value, list) else [value]
                meta["contact_ids"] = [php_int(v) for v in ids if php_int(v) > 0]
                meta["touched"].add(key)
                continue
            if spec.read_only and not (is_add and import_mode and key in importable):
                continue
            stored_value = normalize_scalar(spec, value, self.tz)
            if is_unset(stored_value):
                continue
            if key == "ASSIGNED_BY_ID" and (stored_value is None or int(stored_value) <= 0):
                continue
            if key == "STATUS_ID" and stored_value not in self.lead_stage_ids():
                # Unknown stage: ignored on update, replaced by the first stage on add.
                if not is_add:
                    continue
                stored_value = None
            if key == "TITLE" and not is_add and not str(stored_value or "").strip():
                errors.append('The "Lead Title" field is required.<br />')
                continue
            row[key] = stored_value
            meta["touched"].add(key)
        return meta

    def _finish_lead_row(self, row: dict[str, Any]) -> None:
        phones = row.get("PHONE") or []
        emails = row.get("EMAIL") or []
        ims = row.get("IM") or []
        row["HAS_PHONE"] = "Y" if phones else "N"
        row["HAS_EMAIL"] = "Y" if emails else "N"
        row["HAS_IMOL"] = "Y" if any(i["VALUE_TYPE"] in ("OPENLINE", "IMOL") for i in ims) else "N"

    def _set_stage(self, row: dict[str, Any], stage: str, user_id: int, now: str) -> None:
        row["STATUS_ID"] = stage
        semantic = self.statuses.semantics("STATUS", stage)
        row["STATUS_SEMANTIC_ID"] = semantic
        row["DATE_CLOSED"] = now if semantic in ("S", "F") else ""
        row["MOVED_BY_ID"] = str(user_id)
        row["MOVED_TIME"] = now

    def _check_required_user_fields(self, row: Mapping[str, Any], errors: list[str]) -> None:
        for name in sorted(self.required_lead_fields):
            spec = self.leads_table.fields.get(name)
            if spec is not None and not uf_value_present(row.get(name)):
                errors.append(f'The "{spec.title}" field is required.<br />')
        if not self.check_required_user_fields:
            return
        for uf in self.user_fields.values():
            if uf["MANDATORY"] == "Y" and not uf_value_present(row.get(uf["FIELD_NAME"])):
                errors.append(f'The "{field_label(uf)}" field is required.<br />')

    def add_lead(
        self,
        fields: Any,
        user_id: int,
        *,
        params: Mapping[str, Any] | None = None,
        fire: bool = True,
    ) -> int:
        """crm.lead.add semantics (also used for UI-made leads); returns the new id."""
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        params = params if isinstance(params, dict) else {}
        import_mode = str(params.get("IMPORT", "N")).upper() == "Y"
        now = self.now_text()
        row: dict[str, Any] = {}
        for spec in LEAD_FIELDS:
            if spec.type == "crm_multifield" or spec.name == "CONTACT_IDS":
                continue
            row[spec.name] = "" if spec.type in ("date", "datetime") else None
        row.update(
            {
                "OPPORTUNITY": "0.00",
                "CURRENCY_ID": self.base_currency,
                "OPENED": "Y",
                "IS_MANUAL_OPPORTUNITY": "N",
                "IS_RETURN_CUSTOMER": "N",
            }
        )
        errors: list[str] = []
        meta = self._apply_lead_fields(
            row, fields, is_add=True, import_mode=import_mode, errors=errors
        )
        self._check_required_user_fields(row, errors)
        if errors:
            raise CrmError("\n".join(errors))
        if not row.get("ASSIGNED_BY_ID"):
            row["ASSIGNED_BY_ID"] = str(user_id)
        if not (import_mode and row.get("CREATED_BY_ID")):
            row["CREATED_BY_ID"] = str(user_id)
        if not (import_mode and row.get("MODIFY_BY_ID")):
            row["MODIFY_BY_ID"] = str(user_id)
        if not (import_mode and row.get("DATE_CREATE")):
            row["DATE_CREATE"] = now
        if not (import_mode and row.get("DATE_MODIFY")):
            row["DATE_MODIFY"] = now
        stage = row.get("STATUS_ID") or self.lead_stage_ids()[0]
        self._set_stage(row, stage, user_id, now)
        row["LAST_ACTIVITY_TIME"] = row["DATE_CREATE"]
        row["LAST_ACTIVITY_BY"] = row["CREATED_BY_ID"]
        self._finish_lead_row(row)
        lead_id = self.leads_table.insert(row)
        if not str(row.get("TITLE") or "").strip():
            row["TITLE"] = f"Lead #{lead_id}"
        self._sync_contacts_from_lead(lead_id, row, meta)
        if self.simple_mode and str(row.get("NAME") or "").strip():
            self._convert_lead(lead_id, user_id)
        if fire:
            self.fire_event("ONCRMLEADADD", {"FIELDS": {"ID": str(lead_id)}}, user_id)
        return lead_id

    def _sync_contacts_from_lead(
        self, lead_id: int, row: dict[str, Any], meta: Mapping[str, Any]
    ) -> None:
        touched = meta["touched"]
        if meta["contact_ids"] is not None:
            bindings = []
            for index, contact_id in enumerate(dict.fromkeys(meta["contact_ids"])):
                bindings.append(
                    {
                        "CONTACT_ID": contact_id,
                        "SORT": (index + 1) * 10,
                        "ROLE_ID": 0,
                        "IS_PRIMARY": "Y" if index == 0 else "N",
                    }
                )
            self.lead_contacts[lead_id] = bindings
        elif "CONTACT_ID" in touched:
            contact_id = php_int(row.get("CONTACT_ID") or 0)
            bindings = [
                b for b in self.lead_contacts.get(lead_id, []) if b["CONTACT_ID"] != contact_id
            ]
            for binding in bindings:
                binding["IS_PRIMARY"] = "N"
            if contact_id > 0:
                bindings.insert(
                    0, {"CONTACT_ID": contact_id, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}
                )
            self.lead_contacts[lead_id] = bindings
        self._mirror_primary_contact(lead_id)
        company = php_int(row.get("COMPANY_ID") or 0)
        contact = php_int(row.get("CONTACT_ID") or 0)
        row["IS_RETURN_CUSTOMER"] = "Y" if company > 0 or contact > 0 else "N"

    def _mirror_primary_contact(self, lead_id: int) -> None:
        row = self.leads_table.rows.get(lead_id)
        if row is None:
            return
        bindings = self.lead_contacts.get(lead_id, [])
        primary = next((b for b in bindings if b["IS_PRIMARY"] == "Y"), None)
        if primary is None and bindings:
            bindings[0]["IS_PRIMARY"] = "Y"
            primary = bindings[0]
        row["CONTACT_ID"] = str(primary["CONTACT_ID"]) if primary else None

    def _convert_lead(self, lead_id: int, user_id: int) -> None:
        row = self.leads_table.rows[lead_id]
        now = self.now_text()
        contact_id = self.add_contact(
            {
                "NAME": row.get("NAME"),
                "LAST_NAME": row.get("LAST_NAME"),
                "PHONE": [
                    {"VALUE": p["VALUE"], "VALUE_TYPE": p["VALUE_TYPE"]}
                    for p in row.get("PHONE") or []
                ],
            },
            user_id,
            fire=False,
            lead_id=lead_id,
        )
        deal: dict[str, Any] = {spec.name: None for spec in DEAL_FIELDS}
        deal.update(
            {
                "TITLE": row["TITLE"],
                "STAGE_ID": "NEW",
                "STAGE_SEMANTIC_ID": "P",
                "CURRENCY_ID": row["CURRENCY_ID"],
                "OPPORTUNITY": row["OPPORTUNITY"],
                "CONTACT_ID": str(contact_id),
                "ASSIGNED_BY_ID": row["ASSIGNED_BY_ID"],
                "CREATED_BY_ID": str(user_id),
                "MODIFY_BY_ID": str(user_id),
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "LEAD_ID": str(lead_id),
                "CLOSED": "N",
                "OPENED": "Y",
                "CATEGORY_ID": "0",
            }
        )
        self.deals_table.insert(deal)
        self._set_stage(row, "CONVERTED", user_id, now)

    def update_lead(self, lead_id: Any, fields: Any, user_id: int, *, fire: bool = True) -> None:
        """crm.lead.update semantics."""
        numeric_id = php_int(lead_id)
        if numeric_id <= 0:
            raise CrmError("ID is not defined or invalid.")
        row = self.leads_table.rows.get(numeric_id)
        if row is None:
            raise CrmError("Lead is not found")
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        draft = {k: (list(v) if isinstance(v, list) else v) for k, v in row.items()}
        old_stage = draft.get("STATUS_ID")
        errors: list[str] = []
        meta = self._apply_lead_fields(
            draft, fields, is_add=False, import_mode=False, errors=errors
        )
        if errors:
            raise CrmError("\n".join(errors))
        now = self.now_text()
        new_stage = draft.get("STATUS_ID")
        draft["STATUS_ID"] = old_stage
        if new_stage != old_stage and new_stage:
            self._set_stage(draft, str(new_stage), user_id, now)
        draft["DATE_MODIFY"] = now
        draft["MODIFY_BY_ID"] = str(user_id)
        self._finish_lead_row(draft)
        row.clear()
        row.update(draft)
        self._sync_contacts_from_lead(numeric_id, row, meta)
        if fire:
            self.fire_event("ONCRMLEADUPDATE", {"FIELDS": {"ID": str(numeric_id)}}, user_id)

    def delete_lead(self, lead_id: Any, user_id: int, *, fire: bool = True) -> None:
        """crm.lead.delete semantics."""
        numeric_id = php_int(lead_id)
        if numeric_id <= 0:
            raise CrmError("ID is not defined or invalid.")
        if not self.leads_table.delete(numeric_id):
            code, text = self.lead_delete_not_found
            raise CrmError(text, code)
        self.lead_contacts.pop(numeric_id, None)
        self.product_rows.pop(numeric_id, None)
        for comment_id in [
            k
            for k, c in self.timeline_comments.items()
            if c["ENTITY_TYPE"] == "lead" and c["ENTITY_ID"] == numeric_id
        ]:
            del self.timeline_comments[comment_id]
        if fire:
            self.fire_event("ONCRMLEADDELETE", {"FIELDS": {"ID": str(numeric_id)}}, user_id)

    def ui_add_lead(self, fields: Mapping[str, Any], user_id: int = 1) -> int:
        """A lead created in the portal UI: same rules as REST, fires ONCRMLEADADD."""
        return self.add_lead(dict(fields), user_id)

    def ui_update_lead(self, lead_id: int, fields: Mapping[str, Any], user_id: int = 1) -> None:
        """A lead edited in the portal UI; fires ONCRMLEADUPDATE."""
        self.update_lead(lead_id, dict(fields), user_id)

    def ui_delete_lead(self, lead_id: int, user_id: int = 1) -> None:
        """A lead deleted in the portal UI; fires ONCRMLEADDELETE."""
        self.delete_lead(lead_id, user_id)

    def seed_leads(self, n: int, **overrides: Any) -> list[int]:
        """Bulk insert n leads quickly (no events). Overrides are REST-style field values;
        a callable override is called with the index (0..n-1) to produce the value."""
        ids: list[int] = []
        now = self.now_text()
        stages = self.lead_stage_ids()
        template: dict[str, Any] = {}
        for spec in LEAD_FIELDS:
            if spec.type == "crm_multifield" or spec.name == "CONTACT_IDS":
                continue
            template[spec.name] = "" if spec.type in ("date", "datetime") else None
        template.update(
            {
                "OPPORTUNITY": "0.00",
                "CURRENCY_ID": self.base_currency,
                "OPENED": "Y",
                "IS_MANUAL_OPPORTUNITY": "N",
                "IS_RETURN_CUSTOMER": "N",
                "ASSIGNED_BY_ID": "1",
                "CREATED_BY_ID": "1",
                "MODIFY_BY_ID": "1",
                "MOVED_BY_ID": "1",
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "MOVED_TIME": now,
                "LAST_ACTIVITY_TIME": now,
                "LAST_ACTIVITY_BY": "1",
                "STATUS_ID": stages[0],
                "HAS_PHONE": "N",
                "HAS_EMAIL": "N",
                "HAS_IMOL": "N",
            }
        )
        for index in range(n):
            row = dict(template)
            resolved = {k: (v(index) if callable(v) else v) for k, v in overrides.items()}
            if resolved:
                self._apply_lead_fields(row, resolved, is_add=True, import_mode=True, errors=[])
            stage = row.get("STATUS_ID") or stages[0]
            row["STATUS_ID"] = stage
            semantic = self.statuses.semantics("STATUS", stage)
            row["STATUS_SEMANTIC_ID"] = semantic
            row["DATE_CLOSED"] = now if semantic != "P" else ""
            self._finish_lead_row(row)
            lead_id = self.leads_table.insert(row)
            if not row.get("TITLE"):
                row["TITLE"] = f"Lead #{lead_id}"
            ids.append(lead_id)
        return ids

    # ------------------------------------------------------------------ contacts

    def add_contact(
        self, fields: Any, user_id: int, *, fire: bool = True, lead_id: int | None = None
    ) -> int:
        """crm.contact.add semantics; returns the new id."""
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        now = self.now_text()
        row: dict[str, Any] = {}
        for spec in CONTACT_FIELDS:
            if spec.type == "crm_multifield" or spec.name in ("COMPANY_IDS", "PHOTO"):
                continue
            row[spec.name] = "" if spec.type in ("date", "datetime") else None
        row.update({"OPENED": "Y", "EXPORT": "Y", "TYPE_ID": "CLIENT", "SOURCE_ID": None})
        self._apply_simple_fields(self.contacts_table, row, fields, is_add=True)
        row.setdefault("ASSIGNED_BY_ID", None)
        if not row.get("ASSIGNED_BY_ID"):
            row["ASSIGNED_BY_ID"] = str(user_id)
        row.update(
            {
                "CREATED_BY_ID": str(user_id),
                "MODIFY_BY_ID": str(user_id),
                "DATE_CREATE": now,
                "DATE_MODIFY": now,
                "LAST_ACTIVITY_TIME": now,
                "LAST_ACTIVITY_BY": str(user_id),
            }
        )
        if lead_id is not None:
            row["LEAD_ID"] = str(lead_id)
        self._finish_lead_row(row)
        contact_id = self.contacts_table.insert(row)
        if fire:
            self.fire_event("ONCRMCONTACTADD", {"FIELDS": {"ID": str(contact_id)}}, user_id)
        return contact_id

    def update_contact(self, contact_id: Any, fields: Any, user_id: int) -> None:
        """crm.contact.update semantics."""
        numeric_id = php_int(contact_id)
        if numeric_id <= 0:
            raise CrmError("ID is not defined or invalid.")
        row = self.contacts_table.rows.get(numeric_id)
        if row is None:
            raise CrmError("Contact is not found")
        if not isinstance(fields, dict):
            raise CrmError("Parameter 'fields' must be array.")
        self._apply_simple_fields(self.contacts_table, row, fields, is_add=False)
        row["DATE_MODIFY"] = self.now_text()
        row["MODIFY_BY_ID"] = str(user_id)
        self._finish_lead_row(row)
        self.fire_event("ONCRMCONTACTUPDATE", {"FIELDS": {"ID": str(numeric_id)}}, user_id)

    def _apply_simple_fields(
        self, table: CrmTable, row: dict[str, Any], fields: Mapping[str, Any], *, is_add: bool
    ) -> None:
        for key, value in fields.items():
            spec = table.fields.get(key)
            if spec is None or spec.read_only:
                continue
            if spec.type == "crm_multifield":
                merged = merge_multifields(row.get(key), value, key, self.multifield_ids)
                if merged:
                    row[key] = merged
                else:
                    row.pop(key, None)
                continue
            if spec.multiple:
                continue
            stored = normalize_scalar(spec, value, self.tz)
            if is_unset(stored):
                continue
            if key == "ASSIGNED_BY_ID" and (stored is None or int(stored) <= 0):
                continue
            row[key] = stored

    # ------------------------------------------------------------------ tokens

    def issue_oauth_tokens(self, user_id: int = 1) -> tuple[str, str]:
        """Issue a valid (access, refresh) token pair for a user of the emulator's app."""
        access = secrets.token_hex(16)
        refresh = secrets.token_hex(16)
        self._access_tokens[access] = AccessToken(user_id, self.wall_clock() + 3600)
        self._refresh_tokens[refresh] = user_id
        return access, refresh

    def issue_authorization_code(self, user_id: int = 1) -> str:
        """A one-time code for the authorization_code grant."""
        code = secrets.token_hex(16)
        self._auth_codes[code] = user_id
        return code

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 expired_token from now on."""
        for token in self._access_tokens.values():
            token.expired = True

    def revoke_access_token(self, token: str) -> None:
        """Forget an access token: it then answers 401 invalid_token."""
        self._access_tokens.pop(token, None)

    def add_incoming_webhook(
        self, user_id: int, secret: str | None = None, scopes: Iterable[str] = ("crm", "user")
    ) -> str:
        """Register another incoming webhook; returns its base URL."""
        code = secret or secrets.token_hex(8)
        self.incoming_webhooks[code] = IncomingWebhook(user_id, code, set(scopes) | {"basic"})
        return f"{self.base_url}/rest/{user_id}/{code}/"

    def set_webhook_scopes(self, scopes: Iterable[str]) -> None:
        """Change the scopes of the default incoming webhook (e.g. drop "crm")."""
        self.incoming_webhooks[self.webhook_secret].scopes = set(scopes) | {"basic"}

    def _token_response(self, user_id: int) -> dict[str, Any]:
        access, refresh = self.issue_oauth_tokens(user_id)
        return {
            "access_token": access,
            "client_endpoint": self.oauth_endpoint,
            "domain": "oauth.bitrix.info",
            "expires": int(self.wall_clock()) + 3600,
            "expires_in": 3600,
            "member_id": self.member_id,
            "refresh_token": refresh,
            "scope": ",".join(sorted(self.oauth_scopes - {"basic"})),
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "status": "L",
            "user_id": user_id,
        }

    async def _handle_token(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            with contextlib.suppress(Exception):
                params.update(dict(await request.post()))
        grant = str(params.get("grant_type", ""))
        if params.get("client_id") and params.get("client_id") != self.client_id:
            return _json({"error": "invalid_client", "error_description": "Invalid client"}, 400)
        if params.get("client_secret") and params.get("client_secret") != self.client_secret:
            return _json({"error": "invalid_client", "error_description": "Invalid client"}, 400)
        if grant == "refresh_token":
            user_id = self._refresh_tokens.pop(str(params.get("refresh_token", "")), None)
            if user_id is None:
                return _json({"error": "invalid_grant", "error_description": "Invalid grant"}, 400)
            return _json(self._token_response(user_id), 200)
        if grant == "authorization_code":
            user_id = self._auth_codes.pop(str(params.get("code", "")), None)
            if user_id is None:
                return _json({"error": "invalid_grant", "error_description": "Invalid grant"}, 400)
            return _json(self._token_response(user_id), 200)
        return _json({"error": "invalid_request", "error_description": "Invalid request"}, 400)

    # ------------------------------------------------------------------ events

    def add_outgoing_webhook(self, handler_url: str, events: Iterable[str] = LEAD_EVENTS) -> str:
        """Register an outgoing webhook for events; returns its application token."""
        return self.events.add_outgoing_webhook(handler_url, events)

    @property
    def event_handlers(self) -> list[EventHandlerRow]:
        """Registered handler rows (outgoing webhooks and event.bind)."""
        return self.events.handlers

    @property
    def delivered_events(self) -> list[DeliveredEvent]:
        """Every delivery attempt, in order."""
        return self.events.delivered

    @property
    def fired_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every event raised (name, data), delivered or not."""
        return self.events.fired

    @property
    def lost_events(self) -> list[tuple[str, str]]:
        """(event, handler URL) pairs dropped by the lose_events fault."""
        return self.events.lost

    def fire_event(self, event: str, data: dict[str, Any], user_id: int) -> None:
        """Queue an event for every matching handler (delivery happens in the background)."""
        self.events.fire(event, data, user_id)
        self.offline.push(event, data, user_id, self._origin)

    async def drain_events(self) -> None:
        """Wait until every queued event has been delivered (or has failed)."""
        await self.events.drain()

    def _event_auth(self, handler: EventHandlerRow, user_id: int) -> dict[str, Any]:
        if handler.kind == "app":
            # Apps get tokens of the acting user (or of auth_type given at bind time).
            access, refresh = self.issue_oauth_tokens(handler.auth_type or user_id)
            return {
                "access_token": access,
                "expires_in": "3600",
                "scope": ",".join(sorted(self.oauth_scopes - {"basic"})),
                "domain": self.domain,
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "status": "L",
                "client_endpoint": self.oauth_endpoint,
                "member_id": self.member_id,
                "refresh_token": refresh,
                "application_token": handler.application_token,
            }
        return {
            "domain": self.domain,
            "client_endpoint": self.oauth_endpoint,
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "member_id": self.member_id,
            "application_token": handler.application_token,
        }

    # ------------------------------------------------------------------ limits

    def _take_bucket_token(self) -> bool:
        now = self.clock()
        if self._bucket_at is not None:
            elapsed = max(0.0, now - self._bucket_at)
            self._bucket_level = max(0.0, self._bucket_level - elapsed * self.drain_per_second)
        self._bucket_at = now
        # The reference: "a request arriving when the counter is above X is rejected".
        level, burst = self._bucket_level, self.burst
        if level >= burst if self.refuse_at_burst else level > burst:
            # A rejected request is not executed and does not add to the counter.
            return False
        self._bucket_level += 1
        return True

    @property
    def bucket_level(self) -> float:
        """Current leaky-bucket counter (not drained to now)."""
        return self._bucket_level

    def fill_bucket(self) -> None:
        """Fill the leaky bucket to the burst size, as after a burst of other traffic."""
        self._bucket_level = float(self.burst)
        self._bucket_at = self.clock()

    def reset_rate_limit(self) -> None:
        """Empty the leaky bucket and all operating-time buckets."""
        self._bucket_level = 0.0
        self._bucket_at = None
        self._operating.clear()

    def _operating_state(self, credential: str, method: str) -> tuple[float, int | None]:
        minute = int(self.wall_clock() // 60)
        buckets = self._operating.get((credential, method), {})
        for old in [m for m in buckets if m <= minute - 10]:
            del buckets[old]
        if not buckets:
            return 0.0, None
        return sum(buckets.values()), (min(buckets) + 10) * 60

    def _add_operating(self, credential: str, method: str, seconds: float) -> None:
        minute = int(self.wall_clock() // 60)
        buckets = self._operating.setdefault((credential, method), {})
        buckets[minute] = buckets.get(minute, 0.0) + seconds

    # ------------------------------------------------------------------ REST dispatch

    def _time_block(
        self, started: float, processing: float, credential: str | None, method: str | None
    ) -> dict[str, Any]:
        finished = self.wall_clock()
        finished = max(finished, started + processing)
        block: dict[str, Any] = {
            "start": started,
            "finish": finished,
            "duration": finished - started,
            "processing": processing,
            "date_start": format_datetime(datetime.fromtimestamp(started, self.tz), self.tz),
            "date_finish": format_datetime(datetime.fromtimestamp(finished, self.tz), self.tz),
        }
        if credential is not None and method is not None:
            operating, reset_at = self._operating_state(credential, method)
            if reset_at is not None:
                block["operating_reset_at"] = reset_at
            block["operating"] = operating
        return block

    def execute(
        self, ctx: AuthContext, method: str, params: dict[str, Any], *, in_batch: bool = False
    ) -> tuple[Any, int | None, int | None, dict[str, Any]]:
        """Run one method as ctx; returns (result, total, next, time) or raises CrmError."""
        name = method.lower()
        spec: MethodSpec | None = METHODS.get(name)
        if spec is None:
            raise CrmError("Method not found!", "ERROR_METHOD_NOT_FOUND", 404)
        if in_batch and name == "batch":
            raise CrmError(
                "Method is not allowed for batch usage", "ERROR_BATCH_METHOD_NOT_ALLOWED", 405
            )
        if spec.scope not in ctx.scopes:
            whose = "webhook" if ctx.kind == "webhook" else "access"
            raise CrmError(
                f"The request requires higher privileges than provided by the {whose} token",
                "insufficient_scope",
                401,
            )
        if spec.oauth_only and ctx.kind != "oauth":
            raise CrmError(
                "Current authorization type is denied for this method", "WRONG_AUTH_TYPE", 403
            )
        refusal = self.faults.refusals.get(name)
        if refusal is not None:
            raise CrmError(refusal[1], refusal[0], refusal[2])
        counted = name != "batch"
        if counted:
            used, _ = self._operating_state(ctx.credential, name)
            if used > self.operating_limit:
                raise CrmError(
                    "Method is blocked due to operation time limit.", "OPERATION_TIME_LIMIT", 429
                )
        started = self.wall_clock()
        tick = time.perf_counter()
        self.executed.append(name)
        try:
            # Offline queues skip changes the app made through the same connector.
            previous_origin = self._origin
            connector = str(params.get("auth_connector", "") or "")
            self._origin = ("app", connector) if ctx.kind == "oauth" else (ctx.kind, "")
            try:
                outcome = spec.handler(self, ctx, params)
            finally:
                self._origin = previous_origin
        finally:
            measured = time.perf_counter() - tick
            if counted:
                cost = self.operating_costs.get(name, self.operating_cost)
                self._add_operating(ctx.credential, name, measured if cost is None else cost)
        result, total, next_start = outcome.result, outcome.total, outcome.next
        return (
            result,
            total,
            next_start,
            self._time_block(
                started, measured, ctx.credential if counted else None, name if counted else None
            ),
        )

    def authenticate(
        self,
        user_part: str | None,
        secret: str | None,
        params: dict[str, Any],
        headers: Mapping[str, str],
    ) -> AuthContext:
        """Resolve the caller from the webhook path or the OAuth token (param or Bearer)."""
        token = params.pop("auth", None) or params.pop("access_token", None)
        if user_part is not None:
            hook = self.incoming_webhooks.get(secret or "")
            if hook is None or str(hook.user_id) != user_part:
                raise CrmError("Invalid request credentials", "INVALID_CREDENTIALS", 401)
            user = self.users.get(hook.user_id)
            if user is not None and not user["ACTIVE"]:
                raise CrmError("Unable to authorize user", "authorization_error", 401)
            return AuthContext(
                "webhook", hook.user_id, hook.scopes, f"webhook:{hook.user_id}:{hook.secret}"
            )
        if not token:
            header = headers.get("Authorization", "")
            if header[:7].lower() == "bearer ":
                token = header[7:].strip()
        if not token or not isinstance(token, str):
            raise CrmError("Wrong authorization data", "NO_AUTH_FOUND", 401)
        record = self._access_tokens.get(token)
        if record is None:
            raise CrmError("Unable to get application by token", "invalid_token", 401)
        if record.expired or record.expires_at <= self.wall_clock():
            raise CrmError("The access token provided has expired", "expired_token", 401)
        return AuthContext("oauth", record.user_id, self.oauth_scopes, f"app:{self.client_id}")

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        pairs: list[tuple[str, Any]] = list(request.query.items())
        json_body: Any = None
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                text = await request.text()
                if text.strip():
                    json_body = json.loads(text)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                pairs.extend(
                    (k, v if isinstance(v, str) else getattr(v, "filename", ""))
                    for k, v in form.items()
                )
            else:
                text = await request.text()
                stripped = text.strip()
                if stripped.startswith("{"):
                    json_body = json.loads(stripped)
                elif stripped:
                    pairs.extend(_decode_query(stripped))
        params = parse_pairs(pairs)
        if isinstance(json_body, dict):
            params.update(json_body)
        return params

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve_rest(request)
        finally:
            self.in_flight -= 1

    async def _serve_rest(self, request: web.Request) -> web.StreamResponse:
        arrived = self.clock()
        started = self.wall_clock()
        tail = request.match_info["tail"]
        parts = [p for p in tail.split("/") if p != ""]
        method_part = parts[-1] if parts else ""
        for suffix in (".json", ".xml"):
            if method_part.lower().endswith(suffix):
                method_part = method_part[: -len(suffix)]
        method = method_part.lower()
        record = CallRecord(method=method, arrived_at=arrived)
        self.calls.append(record)
        try:
            params = await self._read_params(request)
        except (ValueError, UnicodeDecodeError):
            record.status = 400
            return await self._answer(_error_body("INVALID_REQUEST", "Invalid request"), 400)
        record.params = params
        if self.moved_to:
            record.status = 302
            record.fault = "moved"
            raise web.HTTPFound(self.moved_to.rstrip("/") + request.path_qs)
        faults = self.faults
        if faults.drop_count > 0:
            faults.drop_count -= 1
            record.fault = "drop"
            return self._drop(request)
        if faults.fail_count > 0:
            faults.fail_count -= 1
            record.fault = "fail"
            record.status = faults.fail_status
            return await self._answer_text(
                "<html><body>Internal Server Error</body></html>", faults.fail_status, "text/html"
            )
        if faults.malformed_count > 0:
            faults.malformed_count -= 1
            record.fault = "malformed"
            record.status = 200
            return await self._answer_text('{"result": [truncated', 200, "application/json")
        if self.rate_limit and not self._take_bucket_token():
            record.rejected_by_limit = True
            record.status = 503
            return await self._answer(
                _error_body("QUERY_LIMIT_EXCEEDED", "Too many requests"), 503
            )
        user_part: str | None = None
        secret: str | None = None
        if len(parts) == 3:
            user_part, secret = parts[0], parts[1]
        elif len(parts) != 1:
            record.status = 404
            return await self._answer(
                _error_body("ERROR_METHOD_NOT_FOUND", "Method not found!"), 404
            )
        try:
            ctx = self.authenticate(user_part, secret, params, request.headers)
            record.auth_kind = ctx.kind
            if method == "batch":
                record.batch_methods = _batch_methods(params)
            delay = faults.slow.get(method)
            if delay:
                # A task of its own: the request runs to its end even when the client hangs up.
                late = asyncio.ensure_future(self._execute_later(delay, ctx, method, params))
                self._late_requests.add(late)
                late.add_done_callback(self._late_requests.discard)
                result, total, next_start, time_block = await asyncio.shield(late)
            else:
                result, total, next_start, time_block = self.execute(ctx, method, params)
        except CrmError as exc:
            record.status = exc.status
            body = _error_body(exc.code, exc.description)
        else:
            record.status = 200
            body = {"result": result}
            if next_start is not None:
                body["next"] = next_start
            if total is not None:
                body["total"] = total
            time_block["start"] = started
            time_block["duration"] = time_block["finish"] - started
            time_block["date_start"] = format_datetime(
                datetime.fromtimestamp(started, self.tz), self.tz
            )
            body["time"] = time_block
        listed = [m for m in (record.batch_methods or [method]) if m.endswith(".list")]
        if self.list_server_time > 0 and listed:
            await self.server_sleep(self.list_server_time * len(listed))
        if faults.drop_after_execute_count > 0:
            faults.drop_after_execute_count -= 1
            record.fault = "drop_after_execute"
            record.status = 0
            return self._drop(request)
        return await self._answer(body, record.status)

    async def _execute_later(
        self, delay: float, ctx: AuthContext, method: str, params: dict[str, Any]
    ) -> tuple[Any, int | None, int | None, dict[str, Any]]:
        await asyncio.sleep(delay)
        return self.execute(ctx, method, params)

    def _drop(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=500)

    async def _answer(self, body: Mapping[str, Any], status: int) -> web.Response:
        return await self._answer_text(
            json.dumps(php_json(dict(body))), status, "application/json"
        )

    async def _answer_text(self, text: str, status: int, content_type: str) -> web.Response:
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        return web.Response(text=text, status=status, content_type=content_type, charset="utf-8")

    # ------------------------------------------------------------------ control endpoints

    async def _handle_control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"].strip("/")
        payload: dict[str, Any] = {}
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                loaded = await request.json()
                if isinstance(loaded, dict):
                    payload = loaded
        user_id = php_int(payload.get("user_id", 1)) or 1
        try:
            if action == "state":
                return _json(
                    {
                        "leads": len(self.leads),
                        "contacts": len(self.contacts),
                        "users": len(self.users),
                        "calls": len(self.calls),
                        "delivered_events": len(self.delivered_events),
                        "simple_mode": self.simple_mode,
                        "rate_limit": self.rate_limit,
                    },
                    200,
                )
            if action == "ui/lead.add":
                return _json({"id": self.ui_add_lead(payload.get("fields") or {}, user_id)}, 200)
            if action == "ui/lead.update":
                self.ui_update_lead(
                    php_int(payload.get("id")), payload.get("fields") or {}, user_id
                )
                return _json({"ok": True}, 200)
            if action == "ui/lead.delete":
                self.ui_delete_lead(php_int(payload.get("id")), user_id)
                return _json({"ok": True}, 200)
            if action == "outgoing_webhook":
                token = self.add_outgoing_webhook(
                    str(payload["handler"]), payload.get("events") or LEAD_EVENTS
                )
                return _json({"application_token": token}, 200)
            if action == "faults":
                for key in (
                    "latency",
                    "lose_events",
                    "fail_count",
                    "fail_status",
                    "drop_count",
                    "drop_after_execute_count",
                    "malformed_count",
                ):
                    if key in payload:
                        setattr(self.faults, key, payload[key])
                return _json({"ok": True}, 200)
            if action == "settings":
                if "simple_mode" in payload:
                    self.simple_mode = bool(payload["simple_mode"])
                if "rate_limit" in payload:
                    self.rate_limit = bool(payload["rate_limit"])
                return _json({"ok": True}, 200)
            if action == "drain_events":
                await self.drain_events()
                return _json({"ok": True}, 200)
        except CrmError as exc:
            return _json(_error_body(exc.code, exc.description), exc.status)
        except KeyError as exc:
            return _json({"error": "missing", "error_description": str(exc)}, 400)
        return _json({"error": "unknown action"}, 404)


# ---------------------------------------------------------------------- module helpers


def _json(body: Any, status: int) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _error_body(code: str, description: str) -> dict[str, Any]:
    return {"error": code, "error_description": description}


def _decode_query(text: str) -> list[tuple[str, str]]:
    from urllib.parse import unquote_plus

    pairs = []
    for chunk in text.split("&"):
        if chunk:
            key, _, value = chunk.partition("=")
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def _batch_methods(params: Mapping[str, Any]) -> list[str]:
    cmd = params.get("cmd")
    values = cmd.values() if isinstance(cmd, dict) else cmd if isinstance(cmd, list) else []
    return [str(v).split("?", 1)[0].lower() for v in values]


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Bitrix24 portal emulator")
    parser.add_argument("--demo", action="store_true", help="seed demo users, stages and leads")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--rate-limit", action="store_true", help="enable the leaky bucket")
    parser.add_argument(
        "--event-handler",
        action="append",
        metavar="URL",
        help="register an outgoing webhook to URL (repeatable)",
    )
    args = parser.parse_args(argv)
    # Imported here: the demo module builds on this one.
    from tests.emulators.bitrix24_demo import run_cli

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_cli(args))


if __name__ == "__main__":
    main()
