"""Idle dialog state is deleted after a while; a user coming back later gets a clean menu."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Application
from bot.storage import utc_now
from bot.storage.fsm import SQLiteStorage
from tests.e2e.conftest import eventually, sign_in
from tests.emulators.telegram import TelegramEmulator

IVAN_PHONE = "+79161234567"  # portal user 2


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
    # forgets his dialogs. Repeated until the handler that sent the window has saved it too.
    three_days_later = SQLiteStorage(running_bot.db, clock=lambda: utc_now() + timedelta(days=3))

    async def expired() -> bool:
        await three_days_later.prune(timedelta(hours=72))
        return await _fsm_rows(running_bot) == 0

    await eventually(expired)

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
