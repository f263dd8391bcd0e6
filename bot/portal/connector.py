"""The application's own source key (`auth_connector`) on every CRM write it makes.

The portal does not queue an offline event for the application that made the change through
the connector the queue is read with (the empty one included). The bot reads the queue bound
without a connector, so writes that name the bot's own connector come back through it like
anybody's changes: everyone else hears of a stage moved from Telegram, and the echo rules
(`bot_actions`) credit the person who moved it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.portal.batch import is_read_method
from bot.portal.session import NextRequest, PortalRequest, PortalResponse

__all__ = ["CONNECTOR_PATTERN", "AuthConnectorMiddleware", "is_crm_write"]

CONNECTOR_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a connector name may be: it goes into batch command query strings unescaped."""

PARAM = "auth_connector"


def is_crm_write(method: str) -> bool:
    """A call that changes CRM data (`event.*` takes `auth_connector` with another meaning)."""
    name = method.lower()
    return name.startswith("crm.") and not is_read_method(name)


def _with_connector(command: str, connector: str) -> str:
    """A batch command (`method?query`) with the connector added to its query."""
    method, _, query = command.partition("?")
    if not is_crm_write(method) or f"{PARAM}=" in query:
        return command
    return f"{method}?{query}&{PARAM}={connector}" if query else f"{method}?{PARAM}={connector}"


class AuthConnectorMiddleware:
    """Adds `auth_connector` to CRM writes, and to the write commands inside a batch."""

    def __init__(self, connector: str) -> None:
        if CONNECTOR_PATTERN.fullmatch(connector) is None:
            raise ValueError("a connector is 1-64 of A-Z a-z 0-9 _ . -")
        self.connector = connector

    def params(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """The params as sent: unchanged unless the call (or a batch command) writes CRM data."""
        if is_crm_write(method):
            return {**params, PARAM: self.connector}
        commands = params.get("cmd")
        if method.lower() != "batch" or not isinstance(commands, Mapping):
            return params
        rewritten = {
            key: _with_connector(command, self.connector) if isinstance(command, str) else command
            for key, command in commands.items()
        }
        if rewritten == dict(commands):
            return params
        return {**params, "cmd": rewritten, PARAM: self.connector}

    async def __call__(self, make_request: NextRequest, request: PortalRequest) -> PortalResponse:
        params = self.params(request.method, request.params)
        if params is not request.params:
            request = replace(request, params=params)
        return await make_request(request)
