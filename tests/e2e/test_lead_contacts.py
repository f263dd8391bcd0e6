"""A rep manages the contacts of a lead from its card: link by phone, primary, unlink, create."""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.app import Application
from tests.e2e.conftest import sign_in
from tests.e2e.lead_fixtures import make_manager
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

IVAN_TELEGRAM_ID = 2001
IVAN_PHONE = "+79161234567"  # portal user 2, Ivan Petrov (a rep)
OLGA_TELEGRAM_ID = 2002
OLGA_PHONE = "+79162345678"  # portal user 3, Olga Smirnova (a rep)

CB_SEP = "\x1d"
LIST_READ = "batch[crm.lead.get,crm.lead.contact.items.get,crm.contact.list]"
PHONE_SEARCH = "batch[crm.duplicate.findbycomm" + ",crm.contact.list" * 4 + "]"


def has(fragment: str) -> Any:
    """A predicate: the message's text contains `fragment`."""
    return lambda m: fragment in (m.text or "")


def portal_calls(portal: Bitrix24Emulator, since: int) -> list[str]:
    """Requests the portal got since `since`, batches with their commands."""
    return [
        f"batch[{','.join(call.batch_methods)}]" if call.method == "batch" else call.method
        for call in portal.calls[since:]
    ]


def bot_actions(app: Application) -> list[tuple[int, int, int, str]]:
    """Rows of bot_actions, read straight from the SQLite file."""
    with sqlite3.connect(app.settings.storage.path) as conn:
        rows = conn.execute(
            "SELECT lead_id, telegram_user_id, portal_user_id, action FROM bot_actions "
            "WHERE action LIKE 'contact_%' ORDER BY id"
        ).fetchall()
    return [tuple(row) for row in rows]


def client_lead(portal: Bitrix24Emulator, responsible: int = 2) -> int:
    return portal.ui_add_lead(
        {
            "TITLE": "Windows <for> the dacha",
            "NAME": "Sergey",
            "LAST_NAME": "Kuznetsov",
            "ASSIGNED_BY_ID": responsible,
            "PHONE": [{"VALUE": "+79035550101", "VALUE_TYPE": "MOBILE"}],
            "EMAIL": [{"VALUE": "sergey@client.test", "VALUE_TYPE": "WORK"}],
        }
    )


def contact(portal: Bitrix24Emulator, name: str, last: str, phone: str) -> int:
    return portal.add_contact(
        {"NAME": name, "LAST_NAME": last, "PHONE": [{"VALUE": phone, "VALUE_TYPE": "WORK"}]},
        1,
        fire=False,
    )


async def open_contacts(user: TelegramUser, lead_id: int) -> ChatMessage:
    """Open the lead's card by its deep link, then its contacts."""
    await user.send(f"/start lead_{lead_id}")
    await user.wait_for_message(lambda m: "👥 Contacts" in m.labels)
    await user.press("👥 Contacts")
    return await user.wait_for_message(has("Contacts of lead"))


async def test_rep_links_by_phone_makes_primary_and_unlinks(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    anton = contact(portal_emulator, "Anton", "Orlov", "8 (903) 555-77-88")
    boris = contact(portal_emulator, "Boris", "Lvov", "+79035559900")
    contact(portal_emulator, "Anton", "Namesake", "+79035550000")
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)

    mark = len(portal_emulator.calls)
    listing = await open_contacts(ivan, lead_id)
    assert portal_calls(portal_emulator, mark)[-1] == LIST_READ
    assert "No contacts are linked" in (listing.text or "")
    assert "Windows <for> the dacha" in (listing.text or "")
    assert "&lt;for&gt;" in (listing.html or "")

    # Link by phone, typed differently from how it is stored.
    await ivan.press("🔗 Link a contact")
    await ivan.wait_for_message(has("Send the contact's phone"))
    mark = len(portal_emulator.calls)
    await ivan.send("+7 903 555 77 88")
    found = await ivan.wait_for_message(has("Found 1 contact"))
    assert portal_calls(portal_emulator, mark) == [PHONE_SEARCH]
    mark = len(portal_emulator.calls)
    await ivan.press(next(label for label in found.labels if label.startswith("Anton Orlov")))
    linked = await ivan.wait_for_message(has("is linked to the lead"))
    assert portal_calls(portal_emulator, mark) == [
        "batch[crm.lead.get,crm.contact.get]",
        "crm.lead.contact.add",
        LIST_READ,
    ]
    assert "⭐ Anton Orlov · 8 (903) 555-77-88 — primary" in (linked.text or "")

    # A second contact, found by its exact phone; a rep's list shows the phone masked.
    await ivan.press("🔗 Link a contact")
    await ivan.wait_for_message(has("Send the contact's phone"))
    await ivan.send("+79035559900")
    await ivan.wait_for_message(has("Found 1 contact"))
    await ivan.press("Boris Lvov · +7 903 ***-**-00")
    two = await ivan.wait_for_message(has("Boris Lvov is linked"))
    assert "• Boris Lvov · +79035559900" in (two.text or "")

    # Make Boris primary.
    await ivan.press("Boris Lvov")
    await ivan.wait_for_message(lambda m: "⭐ Make primary" in m.labels)
    mark = len(portal_emulator.calls)
    await ivan.press("⭐ Make primary")
    primary = await ivan.wait_for_message(has("is now the primary contact"))
    assert portal_calls(portal_emulator, mark) == [
        "batch[crm.lead.get,crm.lead.contact.items.get]",
        "crm.lead.contact.items.set",
        LIST_READ,
    ]
    assert "⭐ Boris Lvov · +79035559900 — primary" in (primary.text or "")
    assert portal_emulator.leads[lead_id]["CONTACT_ID"] == str(boris)

    # Unlink Boris: the portal promotes Anton again.
    await ivan.press("⭐ Boris Lvov")
    await ivan.wait_for_message(lambda m: "✂️ Unlink from the lead" in m.labels)
    mark = len(portal_emulator.calls)
    await ivan.press("✂️ Unlink from the lead")
    unlinked = await ivan.wait_for_message(has("is no longer linked"))
    assert portal_calls(portal_emulator, mark) == [
        "crm.lead.get",
        "crm.lead.contact.delete",
        LIST_READ,
    ]
    assert "Boris" not in (unlinked.text or "").split("no longer linked")[1]
    assert "⭐ Anton Orlov" in (unlinked.text or "")
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [anton]

    assert bot_actions(running_bot) == [
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_linked"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_linked"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_made_primary"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_unlinked"),
    ]

    # Back returns to the card.
    await ivan.press("« Back")
    await ivan.wait_for_message(lambda m: "👥 Contacts" in m.labels)


async def test_rep_creates_a_contact_from_the_lead(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, lead_id)

    await ivan.press("➕ Create from the lead")
    confirm = await ivan.wait_for_message(has("Create a contact from the lead"))
    assert "Name: Sergey Kuznetsov" in (confirm.text or "")
    assert "Phone: +79035550101" in (confirm.text or "")
    mark = len(portal_emulator.calls)
    await ivan.press("✅ Create and link")
    done = await ivan.wait_for_message(has("created from the lead and linked"))
    assert portal_calls(portal_emulator, mark) == [
        "crm.lead.get",
        "batch[crm.contact.add,crm.lead.contact.add]",
        LIST_READ,
    ]
    assert "⭐ Sergey Kuznetsov · +79035550101 — primary" in (done.text or "")
    (contact_id,) = [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]]
    created = portal_emulator.contacts[contact_id]
    assert (created["NAME"], created["LAST_NAME"], created["ASSIGNED_BY_ID"]) == (
        "Sergey",
        "Kuznetsov",
        "2",
    )
    assert [e["VALUE"] for e in created["EMAIL"]] == ["sergey@client.test"]
    assert bot_actions(running_bot) == [
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_created"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_linked"),
    ]


async def test_bad_search_text_gets_a_clear_message(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, lead_id)
    await ivan.press("🔗 Link a contact")
    await ivan.wait_for_message(has("Send the contact's phone"))
    mark = len(portal_emulator.calls)
    await ivan.send("x" * 5000)
    await ivan.wait_for_message(has("too long to look for: send at most 64"))
    await ivan.send("+7 903 55")
    await ivan.wait_for_message(has("can't read that as a phone number"))
    await ivan.send("q")
    await ivan.wait_for_message(has("too short to look for"))
    assert portal_calls(portal_emulator, mark) == []
    await ivan.send("Nobody Atall")
    await ivan.wait_for_message(has("No contacts match “Nobody Atall”"))


async def test_rep_cannot_manage_contacts_of_a_colleagues_lead(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    anton = contact(portal_emulator, "Anton", "Orlov", "+79035557788")
    portal_emulator.lead_contacts[lead_id] = [
        {"CONTACT_ID": anton, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}
    ]
    olgas_lead = client_lead(portal_emulator, responsible=3)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, lead_id)
    await ivan.press("⭐ Anton Orlov")
    chosen = await ivan.wait_for_message(lambda m: "✂️ Unlink from the lead" in m.labels)
    unlink_data = chosen.button("✂️ Unlink from the lead").callback_data
    assert unlink_data is not None

    # The lead goes to Olga; Ivan's open dialog still has the button. What he is told is
    # not asserted here (another scenario covers it): the portal and bot_actions stay as
    # they were, and the bot answers the press.
    portal_emulator.ui_update_lead(lead_id, {"ASSIGNED_BY_ID": 3})
    writes = len(portal_emulator.calls)
    query = await ivan.press_data(chosen.message_id, unlink_data)
    await telegram_emulator.wait_for_callback_answer(query)
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [anton]
    assert not any(
        call.method.startswith("crm.lead.contact.") and call.method != "crm.lead.contact.items.get"
        for call in portal_emulator.calls[writes:]
    )

    # Olga's other lead cannot be opened by Ivan at all.
    await ivan.send(f"/start lead_{olgas_lead}")
    await telegram_emulator.wait_until_delivered()
    assert portal_emulator.lead_contacts.get(olgas_lead, []) == []

    # Olga replays Ivan's button in her own chat: the dialog is not hers.
    olga = await sign_in(telegram_emulator, OLGA_TELEGRAM_ID, "Olga", OLGA_PHONE)
    menu = olga.last_message()
    query = await olga.press_data(menu.message_id, unlink_data)
    await telegram_emulator.wait_for_callback_answer(query)
    await telegram_emulator.wait_until_delivered()
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [anton]
    assert bot_actions(running_bot) == []


async def test_forged_search_result_links_nothing(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    contact(portal_emulator, "Anton", "Orlov", "+79035557788")
    other = contact(portal_emulator, "Not", "Found", "+79035556666")
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, lead_id)
    await ivan.press("🔗 Link a contact")
    await ivan.wait_for_message(has("Send the contact's phone"))
    await ivan.send("+79035557788")
    found = await ivan.wait_for_message(has("Found 1 contact"))
    data = found.button("Anton Orlov · +7 903 ***-**-88").callback_data
    assert data is not None
    forged = data.rsplit(":", 1)[0] + f":{other}"
    await ivan.press_data(found.message_id, forged)
    await ivan.wait_for_message(has("Send the contact's phone"))
    assert portal_emulator.lead_contacts.get(lead_id, []) == []
    assert bot_actions(running_bot) == []


async def test_a_rep_cannot_harvest_the_portals_contacts(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    own = contact(portal_emulator, "Anton", "Orlov", "+79035557788")
    portal_emulator.lead_contacts[lead_id] = [
        {"CONTACT_ID": own, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}
    ]
    contact(portal_emulator, "Maria", "Orlova", "+79035551234")  # nobody's lead of Ivan
    other_lead = client_lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, other_lead)
    await ivan.press("🔗 Link a contact")
    prompt = await ivan.wait_for_message(has("Send the contact's phone"))
    assert "only by its exact phone or e-mail" in (prompt.text or "")
    mark = len(portal_emulator.calls)
    await ivan.send("Or")
    await ivan.wait_for_message(has("send at least three characters"))
    assert portal_calls(portal_emulator, mark) == []

    # By name: only the contact of his own lead, its phone masked.
    await ivan.send("Orl")
    found = await ivan.wait_for_message(has("Found 1 contact"))
    assert [label for label in found.labels if "·" in label] == ["Anton Orlov · +7 903 ***-**-88"]
    assert "5551234" not in str(found.raw)
    assert "Orlova" not in str(found.raw)

    # A manager keeps the full search, with the phones.
    olga = await sign_in(telegram_emulator, OLGA_TELEGRAM_ID, "Olga", OLGA_PHONE)
    await make_manager(running_bot, OLGA_TELEGRAM_ID)
    await open_contacts(olga, other_lead)
    await olga.press("🔗 Link a contact")
    await olga.wait_for_message(has("Send the contact's phone"))
    await olga.send("Orl")
    every = await olga.wait_for_message(has("Found 2 contacts"))
    assert {label for label in every.labels if "·" in label} == {
        "Anton Orlov · +79035557788",
        "Maria Orlova · +79035551234",
    }


async def test_two_fast_taps_on_create_make_one_contact(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = client_lead(portal_emulator)
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, lead_id)
    await ivan.press("➕ Create from the lead")
    confirm = await ivan.wait_for_message(has("Create a contact from the lead"))
    data = confirm.button("✅ Create and link").callback_data
    assert data is not None
    # Two callback updates sent without waiting for the first answer.
    first = await ivan.press_data(confirm.message_id, data)
    second = await ivan.press_data(confirm.message_id, data)
    await telegram_emulator.wait_for_callback_answer(first)
    await telegram_emulator.wait_for_callback_answer(second)
    await ivan.wait_for_message(has("created from the lead and linked"))
    await telegram_emulator.wait_until_delivered()
    assert len(portal_emulator.contacts) == 1
    assert len(portal_emulator.lead_contacts[lead_id]) == 1
    assert bot_actions(running_bot) == [
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_created"),
        (lead_id, IVAN_TELEGRAM_ID, 2, "contact_linked"),
    ]


async def test_a_forged_hidden_create_button_creates_nothing(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = portal_emulator.ui_add_lead({"TITLE": "Nothing to copy", "ASSIGNED_BY_ID": 2})
    ivan = await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)
    await open_contacts(ivan, lead_id)
    await ivan.press("➕ Create from the lead")
    window = await ivan.wait_for_message(has("no name, phone or e-mail to copy"))
    assert "✅ Create and link" not in window.labels
    back = window.button("« Back").callback_data
    assert back is not None
    intent = back.split(CB_SEP)[0]
    query = await ivan.press_data(window.message_id, f"{intent}{CB_SEP}lc_create_yes")
    await telegram_emulator.wait_for_callback_answer(query)
    await telegram_emulator.wait_until_delivered()
    assert portal_emulator.contacts == {}
    assert portal_emulator.lead_contacts.get(lead_id, []) == []
    assert bot_actions(running_bot) == []
