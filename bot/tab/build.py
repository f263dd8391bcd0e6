"""Assembles the tab from the application's parts (called by the composition root only)."""

from __future__ import annotations

from collections.abc import Callable

from bot.access.service import AccessService
from bot.config import Settings
from bot.events.audience import Audience
from bot.i18n import Translations
from bot.install.installation import InstallationStore
from bot.leads.service import LeadService
from bot.notify.render import Links
from bot.portal import PortalClient
from bot.storage.bindings import BindingRepository
from bot.storage.db import Database
from bot.storage.kv import KeyValueRepository
from bot.storage.mutes import MuteRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.subscriptions import SubscriptionRepository
from bot.tab.csrf import TabTokens
from bot.tab.endpoints import TabEndpoints
from bot.tab.history import LeadHistory
from bot.tab.service import ChatTitle, TabPaths, TabService
from bot.tab.viewer import ViewerCheck


def build_tab(
    settings: Settings,
    *,
    db: Database,
    kv: KeyValueRepository,
    portal: PortalClient,
    access: AccessService,
    audience: Audience,
    installation: InstallationStore,
    leads: LeadService,
    outbox: OutboxRepository,
    subscriptions: SubscriptionRepository,
    translations: Translations,
    links: Links,
    chat_title: ChatTitle,
    on_queued: Callable[[], None],
) -> TabEndpoints:
    """The tab's endpoints; the viewer check shares the portal client's limiter."""
    endpoint = settings.portal.oauth_endpoint
    assert endpoint is not None  # application mode requires it
    viewers = ViewerCheck(
        endpoint=endpoint,
        client_id=settings.portal.oauth_client_id or None,
        limiter=portal.limiter,
        timeout=settings.portal.timeout_seconds,
    )
    path = settings.app.tab_path
    service = TabService(
        installation=installation,
        viewers=viewers,
        tokens=TabTokens(kv),
        access=access,
        bindings=BindingRepository(db),
        audience=audience,
        portal=portal,
        leads=leads,
        history=LeadHistory(db),
        subscriptions=subscriptions,
        mutes=MuteRepository(db),
        outbox=outbox,
        translations=translations,
        links=links,
        chat_title=chat_title,
        paths=TabPaths(ping=f"{path}/ping", group=f"{path}/group"),
        zone=settings.zone,
        on_queued=on_queued,
    )
    return TabEndpoints(service, on_close=viewers.aclose)
