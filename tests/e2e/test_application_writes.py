"""Application mode: the bot's own portal writes come back through the offline queue.

The portal does not queue a change for the application that made it through the connector
the queue is read with. The bot reads the queue bound without a connector and writes with its
own (APP__AUTH_CONNECTOR), so a stage moved from Telegram reaches everyone else, credited to
the person who moved it; with no connector of its own, the change never comes back.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from tests.e2e.conftest import ADMIN_TELEGRAM_ID, about
from tests.e2e.lead_fixtures import IVAN_PORTAL_ID, IVAN_TELEGRAM_ID, ivan, open_card, text_of
from tests.e2e.test_application_mode import (  # noqa: F401  (the fixture)
    AppModeBot,
    app_bot,
    installed_and_subscribed,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser


def lead_update_connectors(portal: Bitrix24Emulator) -> list[str | None]:
    """The `auth_connector` of each crm.lead.update the portal got, alone or in a batch."""
    found: list[str | None] = []
    for call in portal.calls:
        if call.method == "crm.lead.update":
            found.append(call.params.get("auth_connector"))
        commands = call.params.get("cmd") if call.method == "batch" else None
        for command in (commands or {}).values():
            method, _, query = str(command).partition("?")
            if method == "crm.lead.update":
                found.append(parse_qs(query).get("auth_connector", [None])[0])
    return found


async def outbox_texts(running: AppModeBot, chat_id: int, word: str) -> int:
    """How many messages to a chat with `word` the bot queued."""
    row = await running.running.db.fetch_one(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND payload LIKE ?", (chat_id, f"%{word}%")
    )
    return 0 if row is None else int(row[0])


async def move_to_processed(rep: TelegramUser, lead_id: int, title: str) -> None:
    """The rep opens the card and moves the lead to "Processed"."""
    await open_card(rep, lead_id, title)
    await rep.press("🔀 Stage")
    await rep.wait_for_message(lambda m: "Choose the new stage" in text_of(m))
    await rep.press("Processed")
    await rep.wait_for_message(lambda m: "Stage: Processed" in text_of(m))


async def test_stage_moved_from_telegram_comes_back_and_names_the_mover(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    rep = await ivan(telegram_emulator)
    await rep.send("/subscribe")
    await rep.wait_for_message(lambda m: "Preview" in text_of(m))
    lead_id = portal_emulator.ui_add_lead(
        {"TITLE": "Moved from Telegram", "ASSIGNED_BY_ID": IVAN_PORTAL_ID}, IVAN_PORTAL_ID
    )
    await rep.wait_for_message(about(lead_id, "New lead"))
    await anna.wait_for_message(about(lead_id, "New lead"))

    await move_to_processed(rep, lead_id, "Moved from Telegram")

    told = await anna.wait_for_message(about(lead_id, "Stage:"))
    assert "by Ivan Petrov via the bot" in text_of(told)
    # The write named the bot's connector; the queue it came back through is the one read.
    connectors = lead_update_connectors(portal_emulator)
    assert connectors
    assert set(connectors) == {"telegram_bot"}
    # The mover is not told of his own change: a later change reaches him, this one did not.
    fence = portal_emulator.ui_add_lead(
        {"TITLE": "Fence", "ASSIGNED_BY_ID": IVAN_PORTAL_ID}, IVAN_PORTAL_ID
    )
    await rep.wait_for_message(about(fence, "New lead"))
    assert await outbox_texts(app_bot, IVAN_TELEGRAM_ID, "Processed") == 0


async def test_without_a_connector_of_its_own_the_bots_change_never_comes_back(
    app_bot: AppModeBot,  # noqa: F811
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await app_bot.stop()
    settings = app_bot.settings
    app_bot.settings = settings.model_copy(
        update={"app": settings.app.model_copy(update={"auth_connector": ""})}
    )
    await app_bot.start()
    anna = await installed_and_subscribed(app_bot, telegram_emulator, portal_emulator)
    rep = await ivan(telegram_emulator)
    lead_id = portal_emulator.ui_add_lead(
        {"TITLE": "Quiet move", "ASSIGNED_BY_ID": IVAN_PORTAL_ID}, IVAN_PORTAL_ID
    )
    await anna.wait_for_message(about(lead_id, "New lead"))

    await move_to_processed(rep, lead_id, "Quiet move")

    assert portal_emulator.leads[lead_id]["STATUS_ID"] == "PROCESSED"
    # A later change by someone else in the portal is the fence: it arrives, the move did not.
    other = portal_emulator.ui_add_lead({"TITLE": "Fence", "ASSIGNED_BY_ID": 1}, 1)
    await anna.wait_for_message(about(other, "New lead"))
    assert await outbox_texts(app_bot, ADMIN_TELEGRAM_ID, "Processed") == 0
    connectors = lead_update_connectors(portal_emulator)
    assert connectors
    assert set(connectors) == {None}
