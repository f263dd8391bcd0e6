"""Credentials of the Bitrix24 emulator: incoming webhooks, OAuth tokens, who is calling."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from tests.emulators.bitrix24_area_rest import json_response
from tests.emulators.bitrix24_crm import CrmError
from tests.emulators.bitrix24_state import AccessToken, AuthContext, EmulatorState, IncomingWebhook


class AuthArea(EmulatorState):
    """Webhooks and OAuth tokens, the token endpoint, and resolving the caller."""

    def issue_oauth_tokens(self, user_id: int = 1) -> tuple[str, str]:
        """Issue a valid (access, refresh) token pair for a user of the emulator's app."""
        access = secrets.token_hex(16)
        refresh = secrets.token_hex(16)
        self._access_tokens[access] = AccessToken(user_id, self.wall_clock() + 3600)
        self._refresh_tokens[refresh] = user_id
        self.issued_credentials += [access, refresh]
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
        return f"{self.portal.base_url}/rest/{user_id}/{code}/"

    def set_webhook_scopes(self, scopes: Iterable[str]) -> None:
        """Change the scopes of the default incoming webhook (e.g. drop "crm")."""
        self.incoming_webhooks[self.webhook_secret].scopes = set(scopes) | {"basic"}

    def _token_response(self, user_id: int) -> dict[str, Any]:
        access, refresh = self.issue_oauth_tokens(user_id)
        return {
            "access_token": access,
            "client_endpoint": self.portal.oauth_endpoint,
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
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client"}, 400
            )
        if params.get("client_secret") and params.get("client_secret") != self.client_secret:
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client"}, 400
            )
        if grant == "refresh_token":
            user_id = self._refresh_tokens.pop(str(params.get("refresh_token", "")), None)
            if user_id is None:
                return json_response(
                    {"error": "invalid_grant", "error_description": "Invalid grant"}, 400
                )
            return json_response(self._token_response(user_id), 200)
        if grant == "authorization_code":
            user_id = self._auth_codes.pop(str(params.get("code", "")), None)
            if user_id is None:
                return json_response(
                    {"error": "invalid_grant", "error_description": "Invalid grant"}, 400
                )
            return json_response(self._token_response(user_id), 200)
        return json_response(
            {"error": "invalid_request", "error_description": "Invalid request"}, 400
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
