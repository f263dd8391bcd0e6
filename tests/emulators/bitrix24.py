"""A Bitrix24 portal emulator: a real aiohttp server on 127.0.0.1 speaking REST v1 for CRM leads.

Behaviour follows shared/reference/bitrix24-leads-api.md (section 11 is the checklist); where the
docs and the server source disagree, the source wins. Run it standalone with
`python -m tests.emulators.bitrix24 --demo [--port N] [--rate-limit] [--event-handler URL]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl

from aiohttp import web

from tests.emulators.bitrix24_area_activities import ActivitiesArea
from tests.emulators.bitrix24_area_app import AppArea
from tests.emulators.bitrix24_area_auth import AuthArea
from tests.emulators.bitrix24_area_catalog import CatalogArea
from tests.emulators.bitrix24_area_contacts import ContactsArea
from tests.emulators.bitrix24_area_control import ControlArea
from tests.emulators.bitrix24_area_events import EventsArea
from tests.emulators.bitrix24_area_leads import LeadsArea
from tests.emulators.bitrix24_area_limits import LimitsArea
from tests.emulators.bitrix24_area_placement import PlacementArea
from tests.emulators.bitrix24_area_rest import RestArea
from tests.emulators.bitrix24_area_robots import RobotsArea
from tests.emulators.bitrix24_area_userfields import UserFieldsArea
from tests.emulators.bitrix24_area_users import DEFAULT_USERS, UsersArea
from tests.emulators.bitrix24_crm import CrmError
from tests.emulators.bitrix24_events import (
    KNOWN_EVENTS,
    LEAD_EVENTS,
    LEAD_USERFIELD_EVENTS,
    DeliveredEvent,
    EventHandlerRow,
)
from tests.emulators.bitrix24_state import (
    AccessToken,
    AuthContext,
    CallRecord,
    Faults,
    IncomingWebhook,
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


class Bitrix24Emulator(
    LeadsArea,
    ContactsArea,
    ActivitiesArea,
    CatalogArea,
    UserFieldsArea,
    UsersArea,
    EventsArea,
    AppArea,
    PlacementArea,
    RobotsArea,
    AuthArea,
    LimitsArea,
    RestArea,
    ControlArea,
):
    """A fake Bitrix24 portal (one portal per instance) served over loopback HTTP.

    Knobs (plain attributes, change them any time): rate_limit, burst, drain_per_second,
    clock (monotonic source of the leaky bucket), refuse_at_burst, wall_clock (unix time for
    dates, tokens and operating buckets), list_server_time, unresolved_references,
    operating_limit, operating_cost / operating_costs[method] (seconds
    charged per call instead of the measured time), faults, simple_mode, moved_to,
    retry_failed_deliveries, check_required_user_fields, required_lead_fields,
    lead_delete_not_found, offline_extended. A request rejected by the leaky bucket is not
    executed and does not add to the counter.

    Each area is a mixin in its own module (`bitrix24_area_*`, as the client's
    `bot.portal.methods`); their shared state is `bitrix24_state.EmulatorState`.
    """

    _scheme = "http"

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        """Bind 127.0.0.1 (a free port unless given; over TLS with the server context `tls`)
        and start the delivery worker."""
        self._scheme = "http" if tls is None else "https"
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/rest/{tail:.*}", self._handle_rest)
        app.router.add_route("*", "/oauth/token/", self._handle_token)
        app.router.add_route("*", "/oauth/token", self._handle_token)
        app.router.add_route("*", "/_emulator/{action:.*}", self._handle_control)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.25
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, ssl_context=tls)
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
        """http://127.0.0.1:<port> (https with TLS)"""
        return f"{self._scheme}://127.0.0.1:{self.port}"

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
