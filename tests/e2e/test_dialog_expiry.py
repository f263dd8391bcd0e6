"""Idle dialog state is deleted after a while; a user coming back later gets a clean menu."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Application
from bot.storage import utc_now
from bot.storage.fsm import SQLiteStorage
from tests.e2e.conftest import eventually, sign_in
from tests.emulators.telegram import TelegramEmulator

IVAN_PHONE = "+79161234567"  # portal user 2


async def _all_handled(app: Application) -> bool:
    """Every update the bot has taken in is handled (its dialog state saved with it)."""
    row = await app.db.fetch_one(
        "SELECT count(*) AS n FROM telegram_updates WHERE handled_at IS NULL"
    )
    assert row is not None
    return int(row["n"]) == 0


async def _fsm_rows(app: Application) -> int:
    row = await app.db.fetch_one("SELECT count(*) AS n FROM fsm")
    assert row is not None
    return int(row["n"])


async def test_user_back_after_dialog_state_expired_gets_a_clean_menu(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    await ivan.press("⚙️ Settings")
    settings = await ivan.wait_for_message(lambda m: "English" in " ".join(m.labels))
    assert await _fsm_rows(running_bot) > 0

    # Three days pass without a word from Ivan; the pruning round (what the app runs hourly)
    # forgets his dialogs. Once the handler that sent the window is done: it saves the dialog
    # after sending, and a state saved after the pruning would still be there.
    await eventually(lambda: _all_handled(running_bot))
    three_days_later = SQLiteStorage(running_bot.db, clock=lambda: utc_now() + timedelta(days=3))
    await three_days_later.prune(timedelta(hours=72))
    assert await _fsm_rows(running_bot) == 0

    label = next(label for label in settings.labels if "English" in label)
    data = settings.button(label).callback_data
    assert data is not None
    query = await ivan.press_data(settings.message_id, data)
    answer = await telegram_emulator.wait_for_callback_answer(query)
    assert "went wrong" not in (answer.text or "")
    menu = await ivan.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    assert "⚙️ Settings" in menu.labels

    await ivan.send("/menu")
    again = await ivan.wait_for_message(lambda m: "Main menu" in (m.text or ""))
    assert "went wrong" not in (again.text or "")
