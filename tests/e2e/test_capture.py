"""A rep captures leads: the guided form, duplicates, quick capture, failures, hostile input."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from bot.app import Application
from bot.leads.form import OPTIONAL_FIELDS_KEY
from bot.storage import KeyValueRepository
from bot.write_journal import MARK_CHARACTERS
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

IVAN_TELEGRAM_ID = 2001
IVAN_PHONE = "+79161234567"  # portal user 2, Ivan Petrov
ANNA_PHONE = "+79160000001"  # portal user 1, config admin
CLIENT_PHONE = "+79165551234"


def has(fragment: str) -> Any:
    """A predicate: the message's text contains `fragment`."""
    return lambda m: fragment in (m.text or "")


async def ivan(telegram_emulator: TelegramEmulator) -> TelegramUser:
    """Ivan Petrov, a rep, signed in and at the menu."""
    return await sign_in(telegram_emulator, IVAN_TELEGRAM_ID, "Ivan", IVAN_PHONE)


async def answer(user: TelegramUser, text: str, expect: str) -> ChatMessage:
    """Type an answer and wait for the next question (or summary) to show `expect`."""
    await user.send(text)
    return await user.wait_for_message(has(expect))


async def press(user: TelegramUser, label: str, expect: str) -> ChatMessage:
    """Press a button and wait for a message showing `expect`."""
    await user.press(label)
    return await user.wait_for_message(has(expect))


def capture_calls(portal: Bitrix24Emulator, since: int) -> list[str]:
    """Methods the bot called from `since` up to and including the first crm.lead.add."""
    methods = [call.method for call in portal.calls[since:]]
    return methods[: methods.index("crm.lead.add") + 1]


async def choose_form_fields(app: Application, codes: list[str]) -> None:
    """What an admin would pick as the form's optional fields."""
    await KeyValueRepository(app.db).set(OPTIONAL_FIELDS_KEY, codes)


def add_portal_lead(
    portal: Bitrix24Emulator, title: str, owner: int, phone: str, days_ago: int = 0
) -> int:
    """A lead made in the portal's UI, `days_ago` days ago."""
    lead_id = portal.ui_add_lead(
        {"TITLE": title, "ASSIGNED_BY_ID": owner, "PHONE": [{"VALUE": phone}]}
    )
    created = portal.now() - timedelta(days=days_ago)
    portal.leads[lead_id]["DATE_CREATE"] = created.replace(microsecond=0).isoformat()
    return lead_id


def bot_actions(app: Application) -> list[tuple[int, int, int, str]]:
    """Rows of bot_actions, read straight from the SQLite file."""
    with sqlite3.connect(app.settings.storage.path) as conn:
        rows = conn.execute(
            "SELECT lead_id, telegram_user_id, portal_user_id, action FROM bot_actions"
        ).fetchall()
    return [tuple(row) for row in rows]


async def test_rep_captures_lead_with_required_custom_fields(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    portal_emulator.add_user_field(
        {"FIELD_NAME": "BUDGET", "USER_TYPE_ID": "integer", "MANDATORY": "Y", "LABEL": "Budget"},
        fire=False,
    )
    portal_emulator.add_user_field(
        {
            "FIELD_NAME": "INTEREST",
            "USER_TYPE_ID": "enumeration",
            "MANDATORY": "Y",
            "LABEL": "Interest",
            "LIST": [{"VALUE": "Windows"}, {"VALUE": "Doors"}],
        },
        fire=False,
    )
    user = await ivan(telegram_emulator)
    calls_before = portal_emulator.count_calls()
    assert "➕ New lead" in user.last_message().labels

    await user.send("/new")
    first = await user.wait_for_message(has("Lead Title"))
    assert "step 1 of 10" in (first.text or "")
    assert "⏭ Skip" in first.labels
    assert "✖️ Cancel" in first.labels
    await answer(user, "Windows for the Ivanovs", "First Name")
    await answer(user, "Maria", "Last Name")
    await press(user, "⏭ Skip", "Phone")
    await answer(user, "8 (916) 555-12-34", "E-mail")
    await press(user, "⏭ Skip", "Company Name")
    await press(user, "⏭ Skip", "Source")
    await press(user, "Call", "Comments")
    budget = await press(user, "⏭ Skip", "Budget")
    assert "(required)" in (budget.text or "")
    assert "⏭ Skip" not in budget.labels
    await answer(user, "150 000", "Interest")
    summary = await press(user, "Doors", "check and send")
    text = summary.text or ""
    assert "Lead Title: Windows for the Ivanovs" in text
    assert f"Phone: {CLIENT_PHONE}" in text
    assert "Source: Call" in text
    assert "Budget: 150000" in text
    assert "Interest: Doors" in text
    assert "Responsible: Ivan Petrov" in text
    assert not any(label.startswith("👤") for label in summary.labels)  # reps keep their leads

    await user.press("✅ Create lead")
    created = await user.wait_for_message(has("is created"))
    [lead_id] = list(portal_emulator.leads)
    assert f"/crm/lead/details/{lead_id}/" in (created.text or "")
    lead = portal_emulator.leads[lead_id]
    assert lead["TITLE"] == "Windows for the Ivanovs"
    assert lead["NAME"] == "Maria"
    assert lead["ASSIGNED_BY_ID"] == "2"
    assert lead["SOURCE_ID"] == "CALL"
    assert [p["VALUE"] for p in lead["PHONE"]] == [CLIENT_PHONE]
    assert lead["UF_CRM_BUDGET"] == 150000
    doors = next(i for i in portal_emulator.user_fields[102]["LIST"] if i["VALUE"] == "Doors")
    assert lead["UF_CRM_INTEREST"] == int(doors["ID"])
    assert lead["ORIGIN_ID"]
    assert bot_actions(running_bot) == [(lead_id, IVAN_TELEGRAM_ID, 2, "add")]
    # The whole capture took the catalog (1), the duplicate check (1) and the add (1).
    assert capture_calls(portal_emulator, calls_before) == ["batch", "batch", "crm.lead.add"]
    card = await user.wait_for_message(lambda m: "🔀 Stage" in m.labels)
    assert "Windows for the Ivanovs" in (card.text or "")


async def test_rep_handles_a_duplicate_found_by_phone(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    own = add_portal_lead(
        portal_emulator, "Old windows deal", owner=2, phone="8 916 555-12-34", days_ago=3
    )
    add_portal_lead(portal_emulator, "Olga's lead", owner=3, phone=CLIENT_PHONE, days_ago=1)
    portal_emulator.add_contact(
        {"NAME": "Maria", "LAST_NAME": "Ivanova", "PHONE": [{"VALUE": CLIENT_PHONE}]}, 1
    )
    await choose_form_fields(running_bot, ["TITLE", "PHONE"])
    user = await ivan(telegram_emulator)

    async def up_to_duplicates(title: str) -> ChatMessage:
        await user.send("/new")
        await user.wait_for_message(has("Lead Title"))
        await answer(user, title, "Phone")
        await answer(user, "+7 916 555 12 34", "check and send")
        await user.press("✅ Create lead")
        return await user.wait_for_message(has("Possible duplicates"))

    # Open: the rep's own lead opens as a card; the colleague's shows who has it, no buttons.
    found = await up_to_duplicates("New windows")
    text = found.text or ""
    assert "Lead Old windows deal — Unassigned, Ivan Petrov, created 3 days ago" in text
    # A colleague's lead: that it exists, its owner and age; not its title or stage.
    assert "• A lead of Olga Smirnova, created 1 day ago" in text
    assert "Olga's lead" not in text
    assert text.count("Unassigned") == 1
    assert "Contact Maria Ivanova" in text
    assert "👁 Old windows deal" in found.labels
    assert "📝 Note to Old windows deal" in found.labels
    assert not any("Olga's lead" in label for label in found.labels)
    await user.press("👁 Old windows deal")
    card = await user.wait_for_message(lambda m: "🔀 Stage" in m.labels)
    assert "Old windows deal" in (card.text or "")
    assert len(portal_emulator.leads) == 2

    # Note: a comment on the existing lead instead of a new lead.
    await up_to_duplicates("New windows")
    await press(user, "📝 Note to Old windows deal", "Send the note")
    await answer(user, "Called again: wants <b>20</b> windows 🪟", "note is added")
    [comment] = portal_emulator.timeline_comments.values()
    assert comment["ENTITY_TYPE"] == "lead"
    assert comment["ENTITY_ID"] == own
    # The note carries its write's invisible mark, by which a replay would find it.
    assert comment["COMMENT"].rstrip(MARK_CHARACTERS) == "Called again: wants <b>20</b> windows 🪟"
    assert comment["COMMENT"] != comment["COMMENT"].rstrip(MARK_CHARACTERS)
    assert len(portal_emulator.leads) == 2

    # Create anyway: the catalog is cached, so the duplicate check (ids, then titles and
    # owners) and the add are all the requests.
    calls_before = portal_emulator.count_calls()
    await up_to_duplicates("Windows, second order")
    await user.press("➕ Create anyway")
    await user.wait_for_message(has("is created"))
    assert capture_calls(portal_emulator, calls_before) == ["batch", "batch", "crm.lead.add"]
    assert len(portal_emulator.leads) == 3
    newest = portal_emulator.leads[max(portal_emulator.leads)]
    assert newest["TITLE"] == "Windows, second order"
    assert newest["ASSIGNED_BY_ID"] == "2"


async def test_rep_captures_lead_from_shared_contact(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    user = await ivan(telegram_emulator)
    await user.share_contact("79165551234", first_name="Мария", last_name="Иванова", user_id=None)
    first = await user.wait_for_message(has("Lead Title"))
    assert "step 1 of 8" in (first.text or "")
    await answer(user, "Мария, окна", "E-mail")
    await press(user, "⏭ Skip", "Company Name")
    await press(user, "⏭ Skip", "Source")
    await press(user, "⏭ Skip", "Comments")
    summary = await press(user, "⏭ Skip", "check and send")
    text = summary.text or ""
    assert "First Name: Мария" in text
    assert "Last Name: Иванова" in text
    assert f"Phone: {CLIENT_PHONE}" in text
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert (lead["NAME"], lead["LAST_NAME"]) == ("Мария", "Иванова")
    assert [p["VALUE"] for p in lead["PHONE"]] == [CLIENT_PHONE]


async def test_rep_captures_lead_from_forwarded_messages(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE", "NAME", "LAST_NAME", "COMMENTS"])
    user = await ivan(telegram_emulator)
    client = {"id": 5555, "is_bot": False, "first_name": "Pyotr", "last_name": "Sidorov"}
    await user.forward("Hi! I need 20 windows, <b>asap</b> 🙏", from_user=client)
    await user.wait_for_message(has("Lead Title"))
    summary = await answer(user, "Windows for Pyotr", "check and send")
    text = summary.text or ""
    assert "First Name: Pyotr" in text
    assert "Last Name: Sidorov" in text
    assert "Comments: Hi! I need 20 windows, <b>asap</b> 🙏" in text
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert lead["NAME"] == "Pyotr"
    assert lead["COMMENTS"] == "Hi! I need 20 windows, <b>asap</b> 🙏"

    # A sender who hides their account still gives their name.
    await user.forward("Перезвоните мне завтра", sender_name="Анна К.")
    await user.wait_for_message(has("Lead Title"))
    summary = await answer(user, "Callback for Anna", "check and send")
    assert "First Name: Анна" in (summary.text or "")
    assert "Last Name: К." in (summary.text or "")
    assert "Comments: Перезвоните мне завтра" in (summary.text or "")


async def test_portal_failure_keeps_the_draft_and_retry_creates_exactly_one_lead(
    bot_runner: Any,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    app = await bot_runner.start()
    await choose_form_fields(app, ["TITLE", "COMMENTS"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Roof repair", "Comments")
    await answer(user, "Call after 6 pm", "check and send")

    # The portal creates the lead, the answer is lost, and then the portal goes down.
    real_add = portal_emulator.add_lead

    def add_then_break(*args: Any, **kwargs: Any) -> int:
        lead_id = real_add(*args, **kwargs)
        portal_emulator.faults.drop_after_execute_next(1)
        portal_emulator.faults.fail_next(1000)
        return lead_id

    portal_emulator.add_lead = add_then_break  # type: ignore[method-assign]
    await user.press("✅ Create lead")
    failed = await user.wait_for_message(has("did not confirm"), timeout=15)
    assert "🔁 Try again" in failed.labels
    assert "draft is kept" in (failed.text or "")
    portal_emulator.add_lead = real_add  # type: ignore[method-assign]
    portal_emulator.faults.clear()
    assert len(portal_emulator.leads) == 1

    await bot_runner.start()  # a restart on the same database keeps the draft
    await user.press("🔁 Try again")
    created = await user.wait_for_message(has("is created"))
    [(lead_id, lead)] = portal_emulator.leads.items()
    assert f"/crm/lead/details/{lead_id}/" in (created.text or "")
    assert lead["TITLE"] == "Roof repair"
    assert lead["COMMENTS"] == "Call after 6 pm"
    assert portal_emulator.count_executed("crm.lead.add") == 1


async def test_portal_outage_then_retry_creates_the_lead(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Gutter", "check and send")
    portal_emulator.faults.fail_next(1000)
    await user.press("✅ Create lead")
    # A 5xx to a write: the portal may have saved it, so Try again looks it up first.
    await user.wait_for_message(has("did not confirm"), timeout=15)
    assert portal_emulator.leads == {}
    portal_emulator.faults.clear()
    await user.press("🔁 Try again")
    await user.wait_for_message(has("is created"))
    assert [lead["TITLE"] for lead in portal_emulator.leads.values()] == ["Gutter"]


async def test_hostile_input_round_trips_and_renders_safely(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE", "NAME", "COMMENTS"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    refused = await answer(user, "Я" * 5000, "too long")
    assert "5,000 characters" in (refused.text or "")
    assert "at most 255" in (refused.text or "")
    assert "Lead Title" in (refused.text or "")  # and asks again
    title = '<b>Окна</b> & "ПВХ" </i> 🚀'
    name = "<script>alert(1)</script> Иван"
    comment = "Привет 👋 <a href='x'>link & more"
    await answer(user, title, "First Name")
    await answer(user, name, "Comments")
    summary = await answer(user, comment, "check and send")
    text = summary.text or ""
    assert f"Lead Title: {title}" in text
    assert f"First Name: {name}" in text
    assert f"Comments: {comment}" in text
    assert "&lt;script&gt;" in (summary.html or "")
    await user.press("✅ Create lead")
    created = await user.wait_for_message(has("is created"))
    assert title in (created.text or "")
    [lead] = portal_emulator.leads.values()
    assert (lead["TITLE"], lead["NAME"]) == (title, name)


async def test_malformed_phone_and_email_are_refused_with_a_reason(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["PHONE", "EMAIL"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Phone"))
    refused = await answer(user, "call me maybe 12", "doesn't look like a phone number")
    assert "8 (916) 123-45-67 or +7 916 123 45 67" in (refused.text or "")
    await answer(user, "8 916 555 12 34", "E-mail")
    refused = await answer(user, "anna@@example", "doesn't look like an e-mail")
    assert "anna@example.com" in (refused.text or "")
    summary = await answer(user, "Anna@Example.COM", "check and send")
    assert "E-mail: Anna@example.com" in (summary.text or "")
    assert f"Phone: {CLIENT_PHONE}" in (summary.text or "")


async def test_manager_makes_a_colleague_responsible(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await anna.send("/new")
    await anna.wait_for_message(has("Lead Title"))
    summary = await answer(anna, "Office chairs", "check and send")
    assert "Responsible: Anna Admin" in (summary.text or "")
    await press(anna, "👤 Responsible: Anna Admin", "Who will be responsible")
    summary = await press(anna, "Olga Smirnova", "check and send")
    assert "Responsible: Olga Smirnova" in (summary.text or "")
    await anna.press("✅ Create lead")
    await anna.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert lead["ASSIGNED_BY_ID"] == "3"


async def test_manager_finds_a_colleague_by_part_of_the_name(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    await anna.send("/new")
    await anna.wait_for_message(has("Lead Title"))
    await answer(anna, "Office desks", "check and send")
    picker = await press(anna, "👤 Responsible: Anna Admin", "Who will be responsible")
    assert {"Olga Smirnova", "Ivan Petrov"} <= set(picker.labels)
    await anna.send("smirn")
    # The old picker loses its buttons; the new one comes with the users found.
    found = await anna.wait_for_message(
        lambda m: "Who will be responsible" in (m.text or "") and bool(m.labels)
    )
    assert "Olga Smirnova" in found.labels
    assert "Ivan Petrov" not in found.labels
    summary = await press(anna, "Olga Smirnova", "check and send")
    assert "Responsible: Olga Smirnova" in (summary.text or "")
    # The search is forgotten after a pick: the picker lists everybody again.
    again = await press(anna, "👤 Responsible: Olga Smirnova", "Who will be responsible")
    assert {"Olga Smirnova", "Ivan Petrov"} <= set(again.labels)


async def test_rep_picks_a_date_and_a_yes_no_answer_or_cancels(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["BIRTHDATE", "OPENED"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Birthdate"))
    await press(user, "✖️ Cancel", "Cancelled")
    await user.wait_for_message(has("Main menu"))
    assert portal_emulator.leads == {}

    await user.send("/new")
    asked = await user.wait_for_message(has("Birthdate"))
    assert "15" in asked.labels
    await press(user, "15", "Available to All")
    summary = await press(user, "❌ No", "check and send")
    assert "Available to All: ✗" in (summary.text or "")
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert lead["BIRTHDATE"][8:10] == "15"
    assert lead["OPENED"] == "N"


async def test_portal_refusal_is_explained_and_the_draft_kept(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    # A required field the bot cannot ask (a file): the portal refuses the lead.
    portal_emulator.add_user_field(
        {
            "FIELD_NAME": "SCAN",
            "USER_TYPE_ID": "file",
            "MANDATORY": "Y",
            "LABEL": "Scan",
            "SETTINGS": {"SIZE": 20},
        },
        fire=False,
    )
    await choose_form_fields(running_bot, ["TITLE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Garage door", "check and send")
    await user.press("✅ Create lead")
    refused = await user.wait_for_message(has("The portal refused the lead"))
    assert 'The "Scan" field is required.' in (refused.text or "")
    assert "<br" not in (refused.text or "")
    assert "🔁 Try again" in refused.labels
    summary = await press(user, "« Back to summary", "check and send")
    assert "Lead Title: Garage door" in (summary.text or "")
    assert portal_emulator.leads == {}
