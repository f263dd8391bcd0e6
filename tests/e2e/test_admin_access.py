"""Admins hand out one-time invites, change roles and revoke access."""

from __future__ import annotations

import re

from bot.app import Application
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser

ANNA_PHONE = "+79160000001"  # portal user 1, config admin
IVAN_PHONE = "+79161234567"  # portal user 2
INVITE_LINK = re.compile(r"start=(inv_[A-Za-z0-9_-]+)")


async def _admin(telegram_emulator: TelegramEmulator) -> TelegramUser:
    return await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)


async def _create_invite(admin: TelegramUser, person: str, role: str) -> str:
    await admin.send("/menu")
    await admin.wait_for_message(lambda m: "🛠 Admin" in m.labels)
    await admin.press("🛠 Admin")
    await admin.wait_for_message(lambda m: "➕ Create invite" in m.labels)
    await admin.press("➕ Create invite")
    await admin.wait_for_message(lambda m: person in m.labels)
    await admin.press(person)
    await admin.wait_for_message(lambda m: role in m.labels)
    await admin.press(role)
    sent = await admin.wait_for_message(lambda m: "The invite is ready" in (m.text or ""))
    found = INVITE_LINK.search(sent.text or "")
    assert found is not None, sent.text
    return found.group(1)


async def test_invite_link_binds_once(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    payload = await _create_invite(admin, "Olga Smirnova", "Manager")

    olga = telegram_emulator.user(3001, "Olga")
    await olga.send(f"/start {payload}")
    accepted = await olga.wait_for_message(lambda m: "Invite accepted" in (m.text or ""))
    assert "Olga Smirnova" in (accepted.text or "")
    assert "Manager" in (accepted.text or "")
    await olga.wait_for_message(lambda m: "Main menu" in (m.text or ""))

    intruder = telegram_emulator.user(3002, "Mallory")
    await intruder.send(f"/start {payload}")
    refused = await intruder.wait_for_message()
    assert "already been used" in (refused.text or "")
    await intruder.send("/menu")
    assert "not signed in" in ((await intruder.wait_for_message()).text or "")


async def test_expired_invite_is_refused(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    payload = await _create_invite(admin, "Olga Smirnova", "Sales rep")
    async with running_bot.db.transaction() as conn:
        await conn.execute("UPDATE invites SET expires_at = '2000-01-01T00:00:00.000000Z'")

    olga = telegram_emulator.user(3001, "Olga")
    await olga.send(f"/start {payload}")
    refused = await olga.wait_for_message()
    assert "expired" in (refused.text or "")


async def test_revoked_invite_is_refused(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    payload = await _create_invite(admin, "Olga Smirnova", "Sales rep")
    await admin.wait_for_message(lambda m: "✉️ Pending invites" in m.labels)
    await admin.press("✉️ Pending invites")
    listing = await admin.wait_for_message(lambda m: "Pending invites" in (m.text or ""))
    line = next(label for label in listing.labels if "Olga Smirnova" in label)
    await admin.press(line)
    await admin.wait_for_message(lambda m: "none" in (m.text or ""))

    olga = telegram_emulator.user(3001, "Olga")
    await olga.send(f"/start {payload}")
    refused = await olga.wait_for_message()
    assert "cancelled by an admin" in (refused.text or "")


async def test_forged_invite_token_is_refused(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    stranger = telegram_emulator.user(3003, "Eve")
    await stranger.send("/start inv_notarealtoken")
    refused = await stranger.wait_for_message()
    assert "doesn't work" in (refused.text or "")


async def test_admin_changes_role_and_revokes_access(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)

    await admin.send("/menu")
    await admin.wait_for_message(lambda m: "🛠 Admin" in m.labels)
    await admin.press("🛠 Admin")
    await admin.wait_for_message(lambda m: "👥 Users with access" in m.labels)
    await admin.press("👥 Users with access")
    listing = await admin.wait_for_message(lambda m: "Users with access" in (m.text or ""))
    ivan_line = next(label for label in listing.labels if "Ivan Petrov" in label)
    await admin.press(ivan_line)
    await admin.wait_for_message(lambda m: "🔁 Change role" in m.labels)
    await admin.press("🔁 Change role")
    await admin.wait_for_message(lambda m: "Manager" in m.labels)
    await admin.press("Manager")
    changed = await admin.wait_for_message(lambda m: "Role changed" in (m.text or ""))
    assert "Ivan Petrov" in (changed.text or "")

    await ivan.send("/help")
    await ivan.wait_for_message()
    assert running_bot.access is not None
    identity = await running_bot.access.identify(2001)
    assert identity is not None
    assert identity.role.value == "manager"

    await admin.press("🚫 Revoke access")
    await admin.wait_for_message(lambda m: "Yes, revoke" in m.labels)
    await admin.press("Yes, revoke")
    await admin.wait_for_message(lambda m: "Users with access" in (m.text or ""))

    await ivan.send("/menu")
    refused = await ivan.wait_for_message()
    assert "not signed in" in (refused.text or "")


async def test_admin_cannot_revoke_self(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    await admin.send("/menu")
    await admin.wait_for_message(lambda m: "🛠 Admin" in m.labels)
    await admin.press("🛠 Admin")
    await admin.wait_for_message(lambda m: "👥 Users with access" in m.labels)
    await admin.press("👥 Users with access")
    listing = await admin.wait_for_message(lambda m: "Users with access" in (m.text or ""))
    own_line = next(label for label in listing.labels if "Anna Admin" in label)
    await admin.press(own_line)
    await admin.wait_for_message(lambda m: "🚫 Revoke access" in m.labels)
    await admin.press("🚫 Revoke access")
    await admin.wait_for_message(lambda m: "Yes, revoke" in m.labels)
    await admin.press("Yes, revoke")
    refused = await admin.wait_for_message(lambda m: "your own access" in (m.text or ""))
    assert refused.text is not None


async def test_rep_never_reaches_admin_tools(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    await admin.send("/menu")
    admin_menu = await admin.wait_for_message(lambda m: "🛠 Admin" in m.labels)
    admin_button = admin_menu.button("🛠 Admin")
    assert admin_button.callback_data is not None

    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    menu = ivan.last_message()
    assert "🛠 Admin" not in menu.labels
    # Ivan replays the admin's button data in his own chat: the dialog is not his.
    query_id = await ivan.press_data(menu.message_id, admin_button.callback_data)
    await telegram_emulator.wait_for_callback_answer(query_id)
    assert not any(
        "Admin" in (m.text or "") and "Manage who" in (m.text or "") for m in ivan.transcript()
    )
