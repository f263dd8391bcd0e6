"""Admins hand out one-time invites, change roles and revoke access."""

from __future__ import annotations

import re

from bot.access.roles import Role
from bot.app import Application
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser

ANNA_PHONE = "+79160000001"  # portal user 1, config admin
IVAN_PHONE = "+79161234567"  # portal user 2
OLGA_PHONE = "+79162345678"  # portal user 3
INVITE_LINK = re.compile(r"start=(inv_[A-Za-z0-9_-]+)")


async def _admin(telegram_emulator: TelegramEmulator) -> TelegramUser:
    return await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)


ANYONE = "🔗 Whoever opens the link"
PHONE_ONLY = "📱 Only with their phone"


async def _open_admin(admin: TelegramUser, button: str) -> None:
    await admin.send("/menu")
    await admin.wait_for_message(lambda m: "🛠 Admin" in m.labels)
    await admin.press("🛠 Admin")
    await admin.wait_for_message(lambda m: button in m.labels)
    await admin.press(button)


async def _create_invite(admin: TelegramUser, person: str, role: str, kind: str = ANYONE) -> str:
    await _open_admin(admin, "➕ Create invite")
    await admin.wait_for_message(lambda m: person in m.labels)
    await admin.press(person)
    await admin.wait_for_message(lambda m: role in m.labels)
    await admin.press(role)
    ask = await admin.wait_for_message(lambda m: kind in m.labels)
    assert "whoever opens it first" in (ask.text or "")
    await admin.press(kind)
    sent = await admin.wait_for_message(lambda m: "The invite is ready" in (m.text or ""))
    assert "Whoever opens this link first gets this access" in (sent.text or "")
    found = INVITE_LINK.search(sent.text or "")
    assert found is not None, sent.text
    return found.group(1)


async def _revoke(admin: TelegramUser, person: str) -> None:
    await _open_admin(admin, "👥 Users with access")
    listing = await admin.wait_for_message(lambda m: "Users with access" in (m.text or ""))
    await admin.press(next(label for label in listing.labels if person in label))
    await admin.wait_for_message(lambda m: "🚫 Revoke access" in m.labels)
    await admin.press("🚫 Revoke access")
    await admin.wait_for_message(lambda m: "Yes, revoke" in m.labels)
    await admin.press("Yes, revoke")
    await admin.wait_for_message(lambda m: "Users with access" in (m.text or ""))


async def _share_phone(user: TelegramUser, phone: str) -> str:
    await user.share_contact(phone)
    return (await user.wait_for_message()).text or ""


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
    assert "revoked your access" in (refused.text or "")


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


async def test_revoked_manager_stays_blocked_until_an_admin_lifts_it_and_returns_as_rep(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    assert running_bot.access is not None
    admin = await _admin(telegram_emulator)
    anna = await running_bot.access.identify(ADMIN_TELEGRAM_ID)
    assert anna is not None
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    assert await running_bot.access.change_role(anna, 2001, Role.MANAGER) is None
    await _revoke(admin, "Ivan Petrov")

    assert "revoked your access" in await _share_phone(ivan, IVAN_PHONE)
    assert await running_bot.access.identify(2001) is None
    await ivan.send("/menu")
    assert "revoked your access" in ((await ivan.wait_for_message()).text or "")

    await _open_admin(admin, "🔒 Revoked accounts")
    listing = await admin.wait_for_message(lambda m: "Revoked accounts" in (m.text or ""))
    line = next(label for label in listing.labels if "Ivan Petrov" in label)
    assert "2001" in line
    await admin.press(line)
    lifted = await admin.wait_for_message(lambda m: "Block lifted" in (m.text or ""))
    assert "Ivan Petrov" in (lifted.text or "")
    assert not any("Ivan Petrov" in label for label in lifted.labels)

    back = await _share_phone(ivan, IVAN_PHONE)
    assert "signed in" in back
    assert "Sales rep" in back
    identity = await running_bot.access.identify(2001)
    assert identity is not None
    assert identity.role is Role.REP


async def test_revoked_account_comes_back_only_by_a_new_invite_with_its_role(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    await _revoke(admin, "Ivan Petrov")
    assert "revoked your access" in await _share_phone(ivan, IVAN_PHONE)

    payload = await _create_invite(admin, "Ivan Petrov", "Manager")
    await ivan.send(f"/start {payload}")
    accepted = await ivan.wait_for_message(lambda m: "Invite accepted" in (m.text or ""))
    assert "Manager" in (accepted.text or "")
    assert running_bot.access is not None
    identity = await running_bot.access.identify(2001)
    assert identity is not None
    assert identity.role is Role.MANAGER


async def test_old_role_does_not_follow_the_phone_to_another_portal_user(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    assert running_bot.access is not None
    await _admin(telegram_emulator)
    anna = await running_bot.access.identify(ADMIN_TELEGRAM_ID)
    assert anna is not None
    ivan = await sign_in(telegram_emulator, 2001, "Ivan", IVAN_PHONE)
    assert await running_bot.access.change_role(anna, 2001, Role.MANAGER) is None

    # Ivan leaves the portal; his phone now belongs to a new portal user.
    portal_emulator.users[2]["ACTIVE"] = False
    portal_emulator.users[2]["PERSONAL_MOBILE"] = ""
    newcomer = portal_emulator.add_user("Igor", "Novak", personal_mobile=IVAN_PHONE)
    await running_bot.access.directory.refresh()
    await ivan.send("/menu")
    assert "deactivated" in ((await ivan.wait_for_message()).text or "")

    back = await _share_phone(ivan, IVAN_PHONE)
    assert "Igor Novak" in back
    assert "Sales rep" in back
    identity = await running_bot.access.identify(2001)
    assert identity is not None
    assert identity.portal_user_id == int(newcomer["ID"])
    assert identity.role is Role.REP


async def test_invite_bound_to_a_phone_refuses_whoever_else_opens_it(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    payload = await _create_invite(admin, "Olga Smirnova", "Manager", kind=PHONE_ONLY)
    sent = [m for m in admin.transcript() if "The invite is ready" in (m.text or "")]
    assert "shares a phone of <b>Olga Smirnova</b>" in (sent[-1].html or "")

    intruder = telegram_emulator.user(3002, "Mallory", phone="+79990001122")
    await intruder.send(f"/start {payload}")
    asked = await intruder.wait_for_message()
    assert "Share my phone" in (asked.text or "")
    assert "phone number is not the one" in await _share_phone(intruder, "+79990001122")
    assert running_bot.access is not None
    assert await running_bot.access.identify(3002) is None
    # Sharing somebody else's card (Olga's number) does not pass either.
    await intruder.send(f"/start {payload}")
    await intruder.wait_for_message()
    await intruder.share_contact(OLGA_PHONE, first_name="Olga", user_id=3001)
    assert "someone else's contact" in ((await intruder.wait_for_message()).text or "")
    assert await running_bot.access.identify(3002) is None

    olga = telegram_emulator.user(3001, "Olga", phone=OLGA_PHONE)
    await olga.send(f"/start {payload}")
    await olga.wait_for_message(lambda m: "confirm it's you" in (m.text or ""))
    accepted = await _share_phone(olga, OLGA_PHONE)
    assert "Invite accepted" in accepted
    assert "Manager" in accepted
    identity = await running_bot.access.identify(3001)
    assert identity is not None
    assert identity.role is Role.MANAGER


async def test_invite_user_list_narrows_to_the_part_of_a_name_sent(
    running_bot: Application, telegram_emulator: TelegramEmulator
) -> None:
    admin = await _admin(telegram_emulator)
    await _open_admin(admin, "➕ Create invite")
    everyone = await admin.wait_for_message(lambda m: "Olga Smirnova" in m.labels)
    assert "Ivan Petrov" in everyone.labels

    await admin.send("smirn")
    narrowed = await admin.wait_for_message(lambda m: "Olga Smirnova" in m.labels)
    assert "Ivan Petrov" not in narrowed.labels
    await admin.send("nobody-like-this " + "x" * 100)
    empty = await admin.wait_for_message(lambda m: "users match" in (m.text or ""))
    assert "x" * 47 + "”" in (empty.text or "")  # the search is cut at 64 characters
    assert "x" * 48 not in (empty.text or "")
    assert "Olga Smirnova" not in empty.labels
