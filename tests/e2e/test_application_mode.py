"""Application mode: installed from the portal, lead changes pulled from its offline queue."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

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
from bot.events.offline import TROUBLE_KEY, intake_trouble
from bot.install.installation import InstallationStore
from bot.storage import KeyValueRepository
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, FAST_BACKOFF, about, eventually, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import DEFAULT_TEST_TOKEN, TelegramEmulator
from tests.emulators.telegram_driver import ChatDriver

ANNA_PHONE = "+79160000001"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AppModeBot:
    """The bot as the portal's local application; restartable on the same database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Application | None = None
        base = f"http://127.0.0.1:{settings.web.port}"
        self.install_url = base + settings.app.install_path
        self.uninstall_url = base + settings.app.uninstall_path

    async def start(self) -> Application:
        self.app = Application(self.settings, polling_backoff=FAST_BACKOFF)
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            app, self.app = self.app, None
            await app.stop()

    @property
    def running(self) -> Application:
        assert self.app is not None
        return self.app


@pytest.fixture
async def app_bot(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[AppModeBot]:
    port = free_port()
    settings = Settings(
        _env_file=None,
        telegram=TelegramSettings(
            token=DEFAULT_TEST_TOKEN,
            api_base=telegram_emulator.base_url,
            admin_ids=[ADMIN_TELEGRAM_ID],
        ),
        portal=PortalSettings(
            oauth_endpoint=portal_emulator.oauth_endpoint,
            oauth_client_id=portal_emulator.client_id,
            oauth_client_secret=portal_emulator.client_secret,
            oauth_token_url=portal_emulator.token_url,
            backoff_seconds=0.01,
        ),
        storage=StorageSettings(path=tmp_path / "bot.sqlite3"),
        web=WebSettings(host="127.0.0.1", port=port),
        # The catch-up poller would find the changes too: keep it out of the way.
        events=EventsSettings(poll_interval_seconds=3600, coalesce_seconds=0.05),
        notify=NotifySettings(private_interval_seconds=0.05, backoff_seconds=0.05),
        app=AppSettings(
            enabled=True, public_url=f"http://127.0.0.1:{port}", offline_poll_seconds=0.1
        ),
    )
    bot = AppModeBot(settings)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def installed_and_subscribed(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> ChatDriver:
    answer = await portal_emulator.install_app(app_bot.install_url)
    assert (answer.status, answer.body) == (200, '{"status": "success"}')
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await anna.send("/subscribe")
    await anna.wait_for_message(lambda m: "Preview" in (m.text or ""))
    return anna


async def test_installed_app_binds_offline_events_and_reports_lead_changes(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    assert sorted(portal_emulator.offline.subscriptions) == [
        ("ONCRMLEADADD", ""),
        ("ONCRMLEADDELETE", ""),
        ("ONCRMLEADUPDATE", ""),
        ("ONCRMLEADUSERFIELDADD", ""),
        ("ONCRMLEADUSERFIELDDELETE", ""),
        ("ONCRMLEADUSERFIELDSETENUMVALUES", ""),
        ("ONCRMLEADUSERFIELDUPDATE", ""),
    ]
    assert [(h.event, h.handler) for h in portal_emulator.event_handlers if h.kind == "app"] == [
        ("ONAPPUNINSTALL", app_bot.uninstall_url)
    ]
    # A record the bot cannot use is handed back to the portal as an error, not dropped.
    portal_emulator.offline.push("ONCRMLEADADD", {"FIELDS": {"ID": "x1"}}, 1, None)
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Offline <pipes>", "ASSIGNED_BY_ID": 1}, 1)
    message = await anna.wait_for_message(about(lead_id, "New lead"))
    assert "Offline <pipes>" in (message.text or "")
    portal_emulator.ui_update_lead(lead_id, {"STATUS_ID": "IN_PROCESS"}, user_id=3)
    await anna.wait_for_message(about(lead_id, "Stage:"))

    # Everything read was cleared from the portal's queue (a pass clears its batch after storing
    # it, so the message can come first), and came through it.
    async def only_the_unusable_record_kept() -> bool:
        kept = [(r.data, r.error) for r in portal_emulator.offline.records]
        return kept == [({"FIELDS": {"ID": "x1"}}, True)]

    await eventually(only_the_unusable_record_kept)
    rows = await app_bot.running.db.fetch_all("SELECT dedup_key FROM inbox")
    assert rows
    assert all(str(row[0]).startswith("off:") for row in rows)
    await anna.send("/status")
    status = await anna.wait_for_message(lambda m: "Bitrix24 application" in (m.text or ""))
    assert f"installed on {portal_emulator.domain}" in (status.text or "")


async def test_uninstall_stops_intake_and_status_says_so_until_reinstalled(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    answers = await portal_emulator.uninstall_app()
    assert [a.status for a in answers] == [200]
    await anna.send("/status")
    status = await anna.wait_for_message(lambda m: "removed from" in (m.text or ""))
    assert "no lead changes arrive" in (status.text or "")
    pulls = portal_emulator.count_calls("event.offline.get")
    await asyncio.sleep(0.5)  # five poll intervals
    assert portal_emulator.count_calls("event.offline.get") == pulls

    answer = await portal_emulator.install_app(app_bot.install_url)
    assert answer.status == 200
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Back again", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))
    record = await InstallationStore(KeyValueRepository(app_bot.running.db)).get()
    assert record is not None
    assert record.installed
    # The fresh installation's application token is the one now checked.
    assert record.application_token == portal_emulator.application_token


async def test_forged_install_and_uninstall_are_refused(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    forged = portal_emulator.install_payload()
    forged["auth"]["access_token"] = "made-up-token"
    answer = await portal_emulator.post_form(app_bot.install_url, forged)
    assert answer.status == 401
    assert await InstallationStore(KeyValueRepository(app_bot.running.db)).get() is None
    assert portal_emulator.offline.subscriptions == []

    await portal_emulator.install_app(app_bot.install_url)
    other_portal = portal_emulator.install_payload()
    other_portal["auth"]["member_id"] = "someone-else"
    assert (await portal_emulator.post_form(app_bot.install_url, other_portal)).status == 401

    wrong_token = portal_emulator.uninstall_payload()
    wrong_token["auth"]["application_token"] = "guessed"
    wrong_member = portal_emulator.uninstall_payload()
    wrong_member["auth"]["member_id"] = "someone-else"
    not_uninstall = portal_emulator.uninstall_payload()
    not_uninstall["event"] = "ONCRMLEADADD"
    for body, status in ((wrong_token, 401), (wrong_member, 401), (not_uninstall, 400)):
        assert (await portal_emulator.post_form(app_bot.uninstall_url, body)).status == status
    async with (
        aiohttp.ClientSession() as http,
        http.post(app_bot.uninstall_url, json={"event": "ONAPPUNINSTALL"}) as response,
    ):
        assert response.status == 415
    record = await InstallationStore(KeyValueRepository(app_bot.running.db)).get()
    assert record is not None
    assert record.installed


async def test_leads_changed_while_the_bot_was_down_all_arrive_once(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    await app_bot.stop()
    leads = [
        portal_emulator.ui_add_lead({"TITLE": f"While down {n}", "ASSIGNED_BY_ID": 1}, 1)
        for n in range(3)
    ]
    # The first clear after the restart fails: the batch stays reserved and is read again.
    portal_emulator.faults.refuse_method("event.offline.clear", "ERROR_CORE", "boom", 500)
    await app_bot.start()
    await eventually(lambda: _called(portal_emulator, "event.offline.clear"))
    portal_emulator.faults.refusals.clear()
    for lead_id in leads:
        await anna.wait_for_message(about(lead_id, "New lead"))
    # Only the bot's recovery can clear a reservation made under a process id it never kept.
    await eventually(lambda: _empty(portal_emulator))
    await asyncio.sleep(0.3)  # three more poll intervals: nothing comes twice
    for lead_id in leads:
        told = [m for m in anna.transcript() if about(lead_id, "New lead")(m)]
        assert len(told) == 1, lead_id


async def _called(emulator: Bitrix24Emulator, method: str) -> bool:
    return emulator.count_calls(method) > 0


async def _empty(emulator: Bitrix24Emulator) -> bool:
    return emulator.offline.records == []


async def test_a_batch_reserved_by_a_run_that_died_before_remembering_it_still_arrives(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    await app_bot.stop()
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Reserved", "ASSIGNED_BY_ID": 1}, 1)
    # The dead run's event.offline.get: the portal reserved the record, the bot kept nothing.
    admin, _ = portal_emulator.issue_oauth_tokens(user_id=1)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            portal_emulator.oauth_endpoint + "event.offline.get", json={"auth": admin, "clear": 0}
        ) as response,
    ):
        reserved = (await response.json())["result"]
    assert len(reserved["events"]) == 1
    await app_bot.start()
    await anna.wait_for_message(about(lead_id, "New lead"))
    # Only the bot's recovery can clear a reservation made under a process id it never kept.
    await eventually(lambda: _empty(portal_emulator))


async def test_status_tells_when_the_portal_keeps_refusing_the_tokens_after_a_lost_uninstall(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    # The bot never hears of the removal: its handler is gone before the portal calls it.
    portal_emulator.events.handlers[:] = [
        h for h in portal_emulator.events.handlers if h.kind != "app"
    ]
    assert await portal_emulator.uninstall_app() == []
    kv = KeyValueRepository(app_bot.running.db)

    async def refused_three_times() -> bool:
        trouble = await intake_trouble(kv)
        return trouble is not None and trouble.refused

    await eventually(refused_three_times)
    await anna.send("/status")
    status = await anna.wait_for_message(lambda m: "refused its tokens" in (m.text or ""))
    assert portal_emulator.domain in (status.text or "")
    assert "installs it again" in (status.text or "")

    # Installed again: the next read works, and the warning is gone.
    assert (await portal_emulator.install_app(app_bot.install_url)).status == 200
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Heard again", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(lead_id, "New lead"))
    assert await kv.get(TROUBLE_KEY) is None
    await anna.send("/status")
    status = await anna.wait_for_message(lambda m: "Bitrix24 application" in (m.text or ""))
    assert f"installed on {portal_emulator.domain}" in (status.text or "")


async def test_a_lead_field_added_in_the_portal_reaches_the_bot_through_the_queue(
    app_bot: AppModeBot, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    catalog = app_bot.running.catalog
    assert "UF_CRM_TENDER" not in (await catalog.get()).fields
    portal_emulator.add_user_field(
        {"FIELD_NAME": "TENDER", "USER_TYPE_ID": "string", "LABEL": "Tender number"}
    )

    async def field_known() -> bool:
        return "UF_CRM_TENDER" in (await catalog.get()).fields

    # The catalog is cached for minutes: only the queued field event makes it read again.
    await eventually(field_known)

    # The batch is cleared once the pass has stored it, a moment after the catalog is told.
    async def queue_cleared() -> bool:
        return portal_emulator.offline.records == []

    await eventually(queue_cleared)
