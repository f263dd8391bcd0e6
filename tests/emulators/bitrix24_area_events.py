"""Event side of the Bitrix24 emulator: outgoing webhooks, firing and delivering events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.emulators.bitrix24_events import LEAD_EVENTS, DeliveredEvent, EventHandlerRow
from tests.emulators.bitrix24_state import EmulatorState


class EventsArea(EmulatorState):
    """Outgoing webhooks (event handlers) and the events fired by changes."""

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
            access, refresh = self.portal.issue_oauth_tokens(handler.auth_type or user_id)
            return {
                "access_token": access,
                "expires_in": "3600",
                "scope": ",".join(sorted(self.oauth_scopes - {"basic"})),
                "domain": self.domain,
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "status": "L",
                "client_endpoint": self.portal.oauth_endpoint,
                "member_id": self.member_id,
                "refresh_token": refresh,
                "application_token": handler.application_token,
            }
        return {
            "domain": self.domain,
            "client_endpoint": self.portal.oauth_endpoint,
            "server_endpoint": "https://oauth.bitrix.info/rest/",
            "member_id": self.member_id,
            "application_token": handler.application_token,
        }
