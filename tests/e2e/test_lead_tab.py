"""The "Telegram" tab of the portal's lead card, opened the way the portal opens it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.app import Application
from bot.storage.reminders import Reminder, ReminderRepository
from tests.e2e.lead_tab_harness import (
    ANNA,
    GROUP_TITLE,
    IVAN,
    OLGA,
    Team,
    post_action,
    running_tab_bot,
    subscribed_team,
    token_of,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator


@pytest.fixture
async def tab_app(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> AsyncIterator[Application]:
    async with running_tab_bot(tmp_path, telegram_emulator, portal_emulator) as app:
        yield app


@pytest.fixture
async def team(
    tab_app: Application, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> Team:
    return await subscribed_team(tab_app, telegram_emulator, portal_emulator)


async def test_installing_binds_the_telegram_tab_in_the_lead_card(
    tab_app: Application, portal_emulator: Bitrix24Emulator
) -> None:
    [row] = portal_emulator.placements
    assert row.placement == "CRM_LEAD_DETAIL_TAB"
    assert row.handler == f"{tab_app.settings.app.public_url}{tab_app.settings.app.tab_path}"
    assert row.title == "Telegram"
    assert set(row.lang_all) == {"en", "ru"}
    # A reinstall leaves one handler, not two.
    await portal_emulator.install_app(
        f"{tab_app.settings.app.public_url}{tab_app.settings.app.install_path}"
    )
    assert len(portal_emulator.placements) == 1


async def test_manager_sees_the_responsibles_status_who_was_told_and_follow_ups(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    due = datetime.now(UTC) + timedelta(days=1)
    await ReminderRepository(team.app.db).schedule(
        Reminder(
            activity_id=501,
            lead_id=team.lead_id,
            telegram_user_id=2001,
            due_at=due,
            fire_at=due,
            lead_title="Pipes",
            note="Call back <after> lunch",
        )
    )
    opened = await portal_emulator.open_tab(ANNA, team.lead_id)
    assert opened.status == 200, opened.body
    page = opened.body
    assert opened.headers["Cache-Control"] == "no-store"
    assert "script-src" not in opened.headers["Content-Security-Policy"]
    assert f"Lead #{team.lead_id}: Pipes &lt;b&gt;&amp;&lt;/b&gt; Co" in page
    assert "Ivan Petrov" in page
    assert "Signed in to the bot" in page
    assert "Notifications off" in page  # Ivan has no subscription
    assert "Private chat of Anna Admin" in page
    assert "Sales &lt;Team&gt; &amp; Co" in page
    assert GROUP_TITLE not in page
    assert "Call back &lt;after&gt; lunch" in page
    # The portal's session stays out of the page.
    assert opened.form["AUTH_ID"] not in page
    assert opened.form["REFRESH_ID"] not in page
    assert opened.form["APPLICATION_TOKEN"] not in page
    assert "<script" not in page


async def test_the_page_speaks_the_portals_language(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    opened = await portal_emulator.open_tab(ANNA, team.lead_id, language="ru")
    assert opened.status == 200
    assert "Ответственный в Telegram" in opened.body
    assert "Напомнить ответственному в Telegram" in opened.body
    assert '<html lang="ru">' in opened.body
    other = await portal_emulator.open_tab(ANNA, team.lead_id, language="de")
    assert "Responsible in Telegram" in other.body


async def test_ping_reaches_the_responsible_with_the_note_escaped_once(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    opened = await portal_emulator.open_tab(ANNA, team.lead_id)
    # The page needs nothing from the portal's session after it was served.
    portal_emulator.revoke_access_token(opened.form["AUTH_ID"])
    form = {"token": token_of(opened.body), "note": "Call <b>today</b> & confirm"}
    status, page = await post_action(team.app, "ping", form)
    assert status == 200, page
    assert "Sent to Ivan Petrov in Telegram." in page
    message = await team.ivan.wait_for_message(lambda m: "asks you to look" in (m.text or ""))
    text = message.text or ""
    assert "Anna Admin asks you to look at this lead" in text
    assert "Call <b>today</b> & confirm" in text  # shown as typed, not as markup
    assert f"#{team.lead_id}" in text
    assert "📇 Open card" in message.labels
    # The same form sent again sends nothing more.
    status, page = await post_action(team.app, "ping", form)
    assert status == 409
    assert "already sent from this page" in page
    reopened = await portal_emulator.open_tab(ANNA, team.lead_id)
    assert "ping from the portal" in reopened.body
    pings = [m for m in team.ivan.transcript() if "asks you to look" in (m.text or "")]
    assert len(pings) == 1


async def test_send_to_the_team_group_reaches_the_group(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    opened = await portal_emulator.open_tab(IVAN, team.lead_id, language="ru")
    assert opened.status == 200, opened.body
    assert "Sales &lt;Team&gt; &amp; Co" in opened.body
    status, page = await post_action(team.app, "group", {"token": token_of(opened.body)})
    assert status == 200, page
    assert "Отправлено: Sales &lt;Team&gt; &amp; Co." in page
    shared = await team.group.wait_for_message(lambda m: "shares this lead" in (m.text or ""))
    assert "Ivan Petrov shares this lead with the team" in (shared.text or "")
    card = shared.button("📇 Open card")
    assert card.url is not None
    assert card.url.endswith(f"?start=lead_{team.lead_id}")


async def test_a_note_over_the_limit_is_refused_with_a_clear_message(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    opened = await portal_emulator.open_tab(ANNA, team.lead_id)
    status, page = await post_action(
        team.app, "ping", {"token": token_of(opened.body), "note": "x" * 1001}
    )
    assert status == 400
    assert "The note is 1001 characters long; the limit is 1000." in page
    assert not [m for m in team.ivan.transcript() if "asks you to look" in (m.text or "")]


async def test_forged_or_foreign_tokens_on_actions_are_refused(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    opened = await portal_emulator.open_tab(ANNA, team.lead_id)
    token = token_of(opened.body)
    version, body, mac = token.split(".")
    forged_mac = f"{version}.{body}.{'A' * len(mac)}"
    for form in (
        {},
        {"token": ""},
        {"token": forged_mac},
        {"token": opened.form["AUTH_ID"]},
        {"token": "t1.e30.AAAA"},
    ):
        status, page = await post_action(team.app, "ping", {**form, "note": "hi"})
        assert status == 403, form
        assert "This page has expired" in page
    assert not [m for m in team.ivan.transcript() if "asks you to look" in (m.text or "")]


async def test_every_refusal_of_opening_has_its_status_and_a_clear_page(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = team.lead_id
    annas_lead = portal_emulator.ui_add_lead({"TITLE": "Anna's", "ASSIGNED_BY_ID": ANNA}, ANNA)

    def form(user_id: int = ANNA, **changes: str) -> dict[str, str]:
        base = portal_emulator.tab_form(user_id, lead_id)
        base.update(changes)
        return {k: v for k, v in base.items() if v != "<drop>"}

    expired = form()
    portal_emulator.expire_access_tokens()
    cases: list[tuple[str, dict[str, str], int, str]] = [
        ("no AUTH_ID", form(AUTH_ID="<drop>"), 401, "did not confirm who you are"),
        ("made-up AUTH_ID", form(AUTH_ID="made-up-token"), 401, "did not confirm who you are"),
        ("expired AUTH_ID", expired, 401, "did not confirm who you are"),
        ("another portal", form(member_id="someone-else"), 403, "not installed on"),
        ("forged app token", form(APPLICATION_TOKEN="guess"), 403, "not installed on"),
        ("not JSON", form(PLACEMENT_OPTIONS="{ID:"), 400, "no lead to show"),
        ("no ID", form(PLACEMENT_OPTIONS=json.dumps({"URI": "/"})), 400, "no lead to show"),
        ("bad ID", form(PLACEMENT_OPTIONS=json.dumps({"ID": "1 OR 1"})), 400, "no lead"),
        ("deal tab", form(PLACEMENT="CRM_DEAL_DETAIL_TAB"), 400, "no lead to show"),
        ("missing lead", form(PLACEMENT_OPTIONS=json.dumps({"ID": "99999"})), 404, "no longer"),
        ("not bound", form(OLGA), 403, "not signed in to the Telegram bot"),
        (
            "a colleague's lead",
            form(IVAN, PLACEMENT_OPTIONS=json.dumps({"ID": str(annas_lead)})),
            403,
            "cannot see this lead",
        ),
    ]
    for name, body, status, words in cases:
        opened = await portal_emulator.open_tab(ANNA, lead_id, form=body)
        assert opened.status == status, (name, opened.body)
        assert words in opened.body, name
        assert opened.headers["Cache-Control"] == "no-store", name
        if "AUTH_ID" in body:
            assert body["AUTH_ID"] not in opened.body, name


async def test_after_uninstall_the_tab_and_its_forms_are_refused(
    team: Team, portal_emulator: Bitrix24Emulator
) -> None:
    opened = await portal_emulator.open_tab(ANNA, team.lead_id)
    token = token_of(opened.body)
    form = portal_emulator.tab_form(ANNA, team.lead_id)
    url = portal_emulator.tab_url()
    await portal_emulator.uninstall_app()
    assert portal_emulator.placements == []  # the portal shows no tab any more
    # A form kept from before (replayed to the bot's address) is refused all the same.
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as again:
        assert again.status == 403
        assert "not installed on" in await again.text()
    status, page = await post_action(team.app, "ping", {"token": token, "note": "hi"})
    assert status == 403
    assert "not installed on" in page
    assert not [m for m in team.ivan.transcript() if "asks you to look" in (m.text or "")]


async def test_without_application_mode_there_is_no_tab(running_bot: Application) -> None:
    url = f"http://127.0.0.1:{running_bot.port}{running_bot.settings.app.tab_path}"
    async with aiohttp.ClientSession() as http, http.post(url, data={"AUTH_ID": "x"}) as answer:
        assert answer.status == 404
