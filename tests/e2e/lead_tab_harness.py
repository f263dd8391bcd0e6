"""A bot installed as the portal's application, with a team, for the lead tab's scenarios."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.app import Application
from bot.config import (
    AppSettings,
    EventsSettings,
    NotifySettings,
    PortalSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
    WebSettings,
)
from bot.storage import BindingRepository, Role
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, FAST_BACKOFF, about, sign_in
from tests.e2e.test_application_mode import free_port
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.emulators.telegram_driver import ChatDriver

ANNA_PHONE = "+79160000001"
IVAN_PHONE = "+79161234567"
IVAN_TG = 2001
GROUP_ID = -4001
GROUP_TITLE = "Sales <Team> & Co"
ANNA, IVAN, OLGA = 1, 2, 3
TOKEN_FIELD = re.compile(r'name="token" value="([^"]+)"')


def tab_settings(
    tmp_path: Path,
    telegram: TelegramEmulator,
    portal: Bitrix24Emulator,
    port: int,
    portal_burst: int = 50,
) -> Settings:
    """Application mode on `port`, with fast notification timings."""
    return Settings(
        _env_file=None,
        telegram=TelegramSettings(
            token=DEFAULT_TEST_TOKEN, api_base=telegram.base_url, admin_ids=[ADMIN_TELEGRAM_ID]
        ),
        portal=PortalSettings(
            oauth_endpoint=portal.oauth_endpoint,
            oauth_client_id=portal.client_id,
            oauth_client_secret=portal.client_secret,
            oauth_token_url=portal.token_url,
            backoff_seconds=0.01,
            burst=portal_burst,
        ),
        storage=StorageSettings(path=tmp_path / "bot.sqlite3"),
        web=WebSettings(host="127.0.0.1", port=port),
        events=EventsSettings(poll_interval_seconds=3600, coalesce_seconds=0.05),
        notify=NotifySettings(
            private_interval_seconds=0.05, group_per_minute=600, backoff_seconds=0.05
        ),
        app=AppSettings(
            enabled=True, public_url=f"http://127.0.0.1:{port}", offline_poll_seconds=0.1
        ),
    )


@dataclass
class Team:
    """Anna (admin, portal user 1) and Ivan (a rep, portal user 2), and their team group."""

    app: Application
    anna: ChatDriver
    ivan: ChatDriver
    group: ChatDriver
    lead_id: int
    """Ivan's lead, already told to Anna's private chat and to the group."""


@contextlib.asynccontextmanager
async def running_tab_bot(
    tmp_path: Path, telegram: TelegramEmulator, portal: Bitrix24Emulator, portal_burst: int = 50
) -> AsyncIterator[Application]:
    """The bot as the installed application (the tab bound at install)."""
    port = free_port()
    settings = tab_settings(tmp_path, telegram, portal, port, portal_burst)
    app = Application(settings, polling_backoff=FAST_BACKOFF)
    await app.start()
    try:
        answer = await portal.install_app(f"http://127.0.0.1:{port}{settings.app.install_path}")
        assert answer.status == 200, answer.body
        yield app
    finally:
        await app.stop()


async def subscribed_team(
    app: Application, telegram: TelegramEmulator, portal: Bitrix24Emulator
) -> Team:
    """Anna subscribed in private and in the group; Ivan signed in, not subscribed."""
    anna = await sign_in(telegram, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    ivan = await sign_in(telegram, IVAN_TG, "Ivan", IVAN_PHONE)
    await BindingRepository(app.db).set_role(IVAN_TG, Role.REP)
    telegram.add_group(GROUP_ID, GROUP_TITLE, admins=[ADMIN_TELEGRAM_ID], members=[IVAN_TG])
    await anna.send("/subscribe")
    await anna.wait_for_message(lambda m: "Preview" in (m.text or ""))
    group = anna.in_group(GROUP_ID)
    await group.send("/subscribe")
    await group.wait_for_message(lambda m: "Preview" in (m.text or ""))
    lead_id = portal.ui_add_lead({"TITLE": "Pipes <b>&</b> Co", "ASSIGNED_BY_ID": IVAN}, ANNA)
    await anna.wait_for_message(about(lead_id, "New lead"))
    await group.wait_for_message(about(lead_id, "New lead"))
    return Team(app=app, anna=anna, ivan=ivan, group=group, lead_id=lead_id)


def token_of(page: str) -> str:
    """The page's signed form token."""
    found = TOKEN_FIELD.search(page)
    assert found is not None, "the page has no form token"
    return found.group(1).replace("&amp;", "&")


async def post_action(app: Application, action: str, form: dict[str, str]) -> tuple[int, str]:
    """POST one of the tab's forms as the browser would."""
    path = f"{app.settings.app.tab_path}/{action}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{app.port}{path}", data=form) as response,
    ):
        return response.status, await response.text()
