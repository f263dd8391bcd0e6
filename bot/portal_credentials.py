"""The portal's credentials: the incoming webhook, or OAuth tokens kept in the database.

In application mode (APP__ENABLED) the tokens come with the installation callback; until the
application is installed the bot has none and portal calls fail with an authorisation error.

Once the bot has refreshed OAuth tokens, the stored ones win over `.env` (the portal rotates the
refresh token at each refresh); deleting the `portal.oauth_tokens` key makes `.env` count again.
"""

from __future__ import annotations

from bot.config import ConfigurationError, Settings
from bot.portal import OAuthAuth, PortalAuth, WebhookAuth
from bot.storage import KeyValueRepository

OAUTH_TOKENS_KEY = "portal.oauth_tokens"


async def build_portal_auth(settings: Settings, kv: KeyValueRepository) -> PortalAuth:
    """Webhook auth, or OAuth whose rotated tokens are kept in storage (newest wins)."""
    portal = settings.portal
    if portal.webhook_url is not None:
        return WebhookAuth(portal.webhook_url.get_secret_value())
    # A local application gets its tokens with the installation (stored below once it came).
    app_mode = settings.app.enabled
    if (portal.oauth_access_token is None and not app_mode) or portal.oauth_endpoint is None:
        raise ConfigurationError(
            "PORTAL__WEBHOOK_URL is not set: put the portal's incoming webhook URL in .env"
        )

    async def store_tokens(access: str, refresh: str, expires_at: float | None) -> None:
        await kv.set(
            OAUTH_TOKENS_KEY,
            {"access": access, "refresh": refresh, "expires_at": expires_at},
            durable=True,
        )

    access_token = (
        portal.oauth_access_token.get_secret_value() if portal.oauth_access_token else ""
    )
    refresh_token = (
        portal.oauth_refresh_token.get_secret_value() if portal.oauth_refresh_token else ""
    )
    expires_at: float | None = None
    stored = await kv.get(OAUTH_TOKENS_KEY)
    if isinstance(stored, dict):
        access_token, refresh_token = stored["access"], stored["refresh"]
        expires_at = stored.get("expires_at")
    return OAuthAuth(
        endpoint=portal.oauth_endpoint,
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=expires_at,
        client_id=portal.oauth_client_id or "",
        client_secret=(
            portal.oauth_client_secret.get_secret_value() if portal.oauth_client_secret else ""
        ),
        token_url=portal.oauth_token_url,
        on_tokens=store_tokens,
    )
