"""Portal links carry the host only, never the webhook secret."""

from __future__ import annotations

from pydantic import SecretStr

from bot.config import PortalSettings
from bot.leads.links import lead_url, portal_origin


def test_origin_from_webhook_drops_the_secret_path() -> None:
    settings = PortalSettings(webhook_url=SecretStr("https://acme.bitrix24.ru/rest/1/s3cret/"))
    origin = portal_origin(settings)
    assert origin == "https://acme.bitrix24.ru"
    assert lead_url(origin, 42) == "https://acme.bitrix24.ru/crm/lead/details/42/"


def test_origin_from_domain_when_no_url() -> None:
    assert portal_origin(PortalSettings(domain="acme.bitrix24.de")) == "https://acme.bitrix24.de"
    assert portal_origin(PortalSettings()) is None
