"""Links into the portal's own UI (reference §10), built without exposing credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.config import PortalSettings


def portal_origin(portal: PortalSettings) -> str | None:
    """`https://<portal>` of the configured portal, or None when it cannot be told.

    Taken from the webhook URL (only scheme and host: the path holds the secret), else the
    OAuth endpoint, else the configured domain.
    """
    for candidate in (
        portal.webhook_url.get_secret_value() if portal.webhook_url else None,
        portal.oauth_endpoint,
    ):
        if candidate:
            parts = urlsplit(candidate)
            if parts.scheme in ("http", "https") and parts.netloc:
                host = parts.netloc.rsplit("@", 1)[-1]
                return f"{parts.scheme}://{host}"
    if portal.domain:
        return f"https://{portal.domain.strip().strip('/')}"
    return None


def lead_url(portal_origin: str, lead_id: int) -> str:
    """The lead's card in the portal: `https://<portal>/crm/lead/details/<id>/`."""
    return f"{portal_origin.rstrip('/')}/crm/lead/details/{int(lead_id)}/"
