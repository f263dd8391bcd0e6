"""The lead tab in a real browser: Debian's headless Chromium, driven by Playwright.

The portal's lead card is a small page whose form posts itself into the tab's frame, as the
portal does; nothing is loaded from outside. The screenshots land in build/screenshots/
(docs/screenshots/ keeps a copy for the documentation).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import ViewportSize, async_playwright

from bot.storage.reminders import Reminder, ReminderRepository
from tests.debian_tools import CHROMIUM, require_tool
from tests.e2e.lead_tab_harness import ANNA, IVAN, IVAN_TG, running_tab_bot, subscribed_team
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
VIEWPORT: ViewportSize = {"width": 900, "height": 1000}


async def test_a_rep_pings_and_shares_from_the_tab_in_a_real_browser(
    tmp_path: Path, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    chromium = require_tool(CHROMIUM)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with (
        running_tab_bot(tmp_path, telegram_emulator, portal_emulator) as app,
        async_playwright() as playwright,
    ):
        team = await subscribed_team(app, telegram_emulator, portal_emulator)
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        await ReminderRepository(app.db).schedule(
            Reminder(801, team.lead_id, IVAN_TG, due, due, note="Send the price list")
        )
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport=VIEWPORT)
            # Anna (admin) opens Ivan's lead in English and pings him with a note.
            await page.set_content(portal_emulator.tab_frame_page(ANNA, team.lead_id))
            tab = page.frame_locator('iframe[name="tab"]')
            await tab.locator("#note").fill("Please call the client <today> & confirm")
            await tab.locator("#ping-button").click()
            await tab.locator(".notice.ok").wait_for()
            assert "Sent to Ivan Petrov in Telegram." in await tab.locator(".notice").inner_text()
            message = await team.ivan.wait_for_message(
                lambda m: "asks you to look" in (m.text or "")
            )
            assert "Please call the client <today> & confirm" in (message.text or "")
            await page.locator('iframe[name="tab"]').screenshot(
                path=str(SCREENSHOTS / "lead-tab-en.png")
            )

            # Ivan opens his own lead in Russian and sends it to the team group.
            await page.set_content(
                portal_emulator.tab_frame_page(IVAN, team.lead_id, language="ru")
            )
            tab = page.frame_locator('iframe[name="tab"]')
            await tab.locator("#group-button").click()
            await tab.locator(".notice.ok").wait_for()
            shared = await team.group.wait_for_message(
                lambda m: "shares this lead" in (m.text or "")
            )
            assert f"#{team.lead_id}" in (shared.text or "")
            await page.locator('iframe[name="tab"]').screenshot(
                path=str(SCREENSHOTS / "lead-tab-ru.png")
            )
        finally:
            await browser.close()
