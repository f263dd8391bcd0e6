"""/report: a period's leads as a picture, the rep's own or, for managers, the whole team's.

The real bot and portal client against both emulators: one full read of the period, a PNG of
the expected size sent as a photo, and a caption whose numbers are the portal's.
"""

from __future__ import annotations

import struct
from datetime import date, timedelta

from bot.app import Application
from bot.reports.render import HEIGHT_PX, WIDTH_PX
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, PICTURE_SECONDS, sign_in
from tests.e2e.test_capture import ANNA_PHONE, has, ivan
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

IVAN_PORTAL, OLGA_PORTAL = 2, 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def add_lead(portal: Bitrix24Emulator, owner: int, status: str, source: str, days_ago: int) -> int:
    """A lead created `days_ago` days ago in the portal's UI."""
    lead_id = portal.ui_add_lead(
        {
            "TITLE": f"{source} lead",
            "ASSIGNED_BY_ID": owner,
            "STATUS_ID": status,
            "SOURCE_ID": source,
        }
    )
    created = portal.now() - timedelta(days=days_ago, minutes=1)
    portal.leads[lead_id]["DATE_CREATE"] = created.replace(microsecond=0).isoformat()
    return lead_id


def team_leads(portal: Bitrix24Emulator) -> None:
    add_lead(portal, IVAN_PORTAL, "NEW", "CALL", 0)
    add_lead(portal, IVAN_PORTAL, "CONVERTED", "CALL", 2)
    add_lead(portal, IVAN_PORTAL, "JUNK", "WEB", 3)
    add_lead(portal, OLGA_PORTAL, "CONVERTED", "WEB", 1)
    add_lead(portal, OLGA_PORTAL, "IN_PROCESS", "WEB", 0)
    add_lead(portal, IVAN_PORTAL, "CONVERTED", "CALL", 40)  # before every period offered


async def report(user: TelegramUser, telegram: TelegramEmulator, period: str) -> ChatMessage:
    """Ask for the report of `period` and return the photo message."""
    await user.send("/report")
    await user.wait_for_message(lambda m: "which period" in (m.text or "") and period in m.labels)
    await user.press(period)
    return await user.wait_for_message(lambda m: m.kind == "photo", timeout=PICTURE_SECONDS)


def png_size(telegram: TelegramEmulator, message: ChatMessage) -> tuple[int, int]:
    """Width and height of the photo's PNG, read from its header."""
    file_id = message.raw["photo"][-1]["file_id"]
    content = telegram.files[file_id].content
    assert content.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", content[16:24])
    return width, height


async def test_a_rep_gets_a_picture_of_their_own_leads_of_the_week(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    team_leads(portal_emulator)
    user = await ivan(telegram_emulator)

    photo = await report(user, telegram_emulator, "Last 7 days")

    caption = photo.text or ""
    assert "3 new, 1 converted (33%)" in caption  # Olga's two and the old one are not his
    assert "Top source: Call (2)" in caption
    assert "Most converted" not in caption  # a rep sees no team ranking
    assert png_size(telegram_emulator, photo) == (WIDTH_PX, HEIGHT_PX)


async def test_a_manager_gets_the_team_and_the_period_decides_what_counts(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    team_leads(portal_emulator)
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)

    week = await report(anna, telegram_emulator, "Last 7 days")
    assert "5 new, 2 converted (40%)" in (week.text or "")
    assert "Most converted: " in (week.text or "")

    today = await report(anna, telegram_emulator, "Today")
    assert "2 new, 0 converted (0%)" in (today.text or "")

    month = await report(anna, telegram_emulator, "Last 30 days")
    assert "5 new, 2 converted (40%)" in (month.text or "")
    assert png_size(telegram_emulator, month) == (WIDTH_PX, HEIGHT_PX)


async def test_an_empty_period_still_answers_with_a_picture(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    user = await ivan(telegram_emulator)
    photo = await report(user, telegram_emulator, "Today")
    assert "0 new, 0 converted (0%)" in (photo.text or "")
    assert png_size(telegram_emulator, photo) == (WIDTH_PX, HEIGHT_PX)


async def test_a_portal_that_does_not_answer_gives_a_sentence_not_a_crash(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    user = await ivan(telegram_emulator)
    portal_emulator.faults.refuse_method("batch", "INTERNAL_SERVER_ERROR", "Internal error", 500)
    portal_emulator.faults.refuse_method(
        "crm.lead.list", "INTERNAL_SERVER_ERROR", "Internal error", 500
    )
    await user.send("/report")
    await user.wait_for_message(lambda m: "which period" in (m.text or "") and bool(m.labels))
    await user.press("Today")
    await user.wait_for_message(has("The portal did not answer, so there is no report"))


async def test_chosen_dates_make_the_period_whichever_day_is_picked_first(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    user = await ivan(telegram_emulator)
    today = date.today()
    first = today.replace(day=1)
    # The calendar marks today as "[ dd ]"; the 1st is plain unless it is today.
    first_label = f"[ {first:%d} ]" if first == today else f"{first:%d}"
    today_label = f"[ {today:%d} ]"

    await user.send("/report")
    await user.wait_for_message(lambda m: "📅 Choose dates" in m.labels)
    await user.press("📅 Choose dates")
    await user.wait_for_message(has("Pick the first day"))
    await user.press(today_label)
    await user.wait_for_message(has(f"First day: {today:%d.%m.%Y}"))
    await user.press(first_label)
    photo = await user.wait_for_message(lambda m: m.kind == "photo", timeout=PICTURE_SECONDS)

    expected = f"{today:%d.%m.%Y}" if first == today else f"{first:%d.%m}–{today:%d.%m.%Y}"
    assert f"Leads {expected}" in (photo.text or "")
