"""Capture under a slow or refusing portal, double taps and forged buttons: never two leads,
never a crash, a refusal that says who can fix it, and hidden buttons that do nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app import Application
from bot.config import PortalSettings, Settings
from bot.leads.capture import UNCONFIRMED_GRACE, CaptureService, CreateInProgress
from tests.e2e.conftest import (
    FAST_BACKOFF,
    SettingsFactory,
    dies_before_marking,
    eventually,
    rewrite_stored_dialog_data,
)
from tests.e2e.test_capture import (
    CLIENT_PHONE,
    add_portal_lead,
    answer,
    bot_actions,
    choose_form_fields,
    has,
    ivan,
    press,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_models import ChatMessage

CB_SEP = "\x1d"


def forged(message: ChatMessage, like_label: str, widget_data: str) -> str:
    """Callback data for a widget the message does not show, in the dialog's own format."""
    data = message.button(like_label).callback_data
    assert data is not None
    intent, _, _ = data.partition(CB_SEP)
    return f"{intent}{CB_SEP}{widget_data}"


async def test_slow_portal_makes_one_lead_and_try_again_checks_first(
    make_settings: SettingsFactory,
    tmp_path: Path,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    # The client gives up after 0.5 s; the portal saves the lead 1.5 s after it was asked.
    base = make_settings()
    settings = base.model_copy(
        update={"portal": base.portal.model_copy(update={"timeout_seconds": 0.5})}
    )
    assert isinstance(settings, Settings)
    assert isinstance(settings.portal, PortalSettings)
    app = Application(settings, polling_backoff=FAST_BACKOFF)
    await app.start()
    try:
        await choose_form_fields(app, ["TITLE"])
        user = await ivan(telegram_emulator)
        await user.send("/new")
        await user.wait_for_message(has("Lead Title"))
        await answer(user, "Slow portal windows", "check and send")
        portal_emulator.faults.slow_method("crm.lead.add", 1.5)
        await user.press("✅ Create lead")
        failed = await user.wait_for_message(has("did not confirm"), timeout=10)
        assert "🔁 Try again" in failed.labels
        # Not added again behind the rep's back.
        assert portal_emulator.count_calls("crm.lead.add") == 1

        # Tried again before the portal finished: it looks, finds nothing yet, adds nothing.
        await user.press("🔁 Try again")
        await user.wait_for_message(has("has not shown the lead yet"))
        assert portal_emulator.count_calls("crm.lead.add") == 1

        await eventually(lambda: _has_leads(portal_emulator), timeout=10)
        portal_emulator.faults.clear()
        await user.press("🔁 Try again")
        await user.wait_for_message(has("is created"))
        await asyncio.sleep(0.3)  # a second add would have reached the portal by now
        assert len(portal_emulator.leads) == 1
        assert portal_emulator.count_executed("crm.lead.add") == 1
        [lead_id] = list(portal_emulator.leads)
        assert bot_actions(app) == [(lead_id, 2001, 2, "add")]
    finally:
        await app.stop()


async def _has_leads(portal: Bitrix24Emulator) -> bool:
    return bool(portal.leads)


async def test_two_taps_at_once_create_one_lead(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    summary = await answer(user, "Fence", "check and send")
    # Both taps reach the bot before the portal answers the first.
    portal_emulator.faults.slow_method("crm.lead.add", 0.5)
    first = await user.press("✅ Create lead", message_id=summary.message_id)
    second = await user.press("✅ Create lead", message_id=summary.message_id)
    answers = [
        await telegram_emulator.wait_for_callback_answer(query, timeout=10)
        for query in (first, second)
    ]
    # The second tap is told the lead is being (or was) created; it starts nothing.
    await user.wait_for_message(has("is created"))
    await user.wait_for_message(lambda m: "🔀 Stage" in m.labels)
    # aiogram-dialog runs one update per dialog stack at a time: the second tap comes after
    # the first closed the form, and is told its button is outdated; the service's own
    # one-write rule is checked in the next test.
    await user.wait_for_message(has("button is outdated"))
    assert len(answers) == 2
    assert [lead["TITLE"] for lead in portal_emulator.leads.values()] == ["Fence"]
    assert portal_emulator.count_executed("crm.lead.add") == 1


async def test_one_write_per_user_and_draft_in_the_service(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    # Whatever the dialog layer does with two taps, the service runs one write per draft.
    await choose_form_fields(running_bot, ["TITLE"])
    await ivan(telegram_emulator)
    assert running_bot.dispatcher is not None
    capture: CaptureService = running_bot.dispatcher["capture"]
    assert running_bot.access is not None
    identity = await running_bot.access.identify(2001)
    assert identity is not None
    form, draft = await capture.new_draft(identity, {"TITLE": "Gate"}, "RU")
    portal_emulator.faults.slow_method("crm.lead.add", 0.3)
    outcomes = await asyncio.gather(
        capture.create_lead(identity, draft, form),
        capture.create_lead(identity, draft, form),
        return_exceptions=True,
    )
    assert sum(isinstance(o, CreateInProgress) for o in outcomes) == 1
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert portal_emulator.count_executed("crm.lead.add") == 1
    assert not capture.creating(identity, draft)


async def test_forged_presses_of_hidden_buttons_change_nothing(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    question = await user.wait_for_message(has("Lead Title"))

    # "Yes" belongs to yes/no fields: sent for the title, it is no answer.
    await user.press_data(question.message_id, forged(question, "✖️ Cancel", "cap_yes"))
    refused = await user.wait_for_message(has("answer with a text message"))
    assert "Lead Title" in (refused.text or "")

    summary = await answer(user, "Porch", "check and send")
    assert not any(label.startswith("👤") for label in summary.labels)
    # A rep forces his way to the (hidden) responsible picker: nobody to pick ...
    await user.press_data(summary.message_id, forged(summary, "✅ Create lead", "cap_responsible"))
    picker = await user.wait_for_message(has("Who will be responsible"))
    assert not any("Olga" in label for label in picker.labels)
    # ... and a forged pick of a colleague is refused by the server.
    query = await user.press_data(
        picker.message_id, forged(picker, "« Back to summary", "cap_resp_user:3")
    )
    refusal = await telegram_emulator.wait_for_callback_answer(query)
    assert "admin" in (refusal.text or "").lower()
    summary = await press(user, "« Back to summary", "check and send")
    assert "Responsible: Ivan Petrov" in (summary.text or "")
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert lead["TITLE"] == "Porch"
    assert lead["ASSIGNED_BY_ID"] == "2"


async def test_only_colleagues_duplicates_offer_no_open_or_note(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    add_portal_lead(portal_emulator, "Olga's secret deal", owner=3, phone=CLIENT_PHONE)
    await choose_form_fields(running_bot, ["TITLE", "PHONE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "New windows", "Phone")
    await answer(user, CLIENT_PHONE, "check and send")
    await user.press("✅ Create lead")
    found = await user.wait_for_message(has("Possible duplicates"))
    text = found.text or ""
    assert "• A lead of Olga Smirnova, created just now" in text
    assert "secret deal" not in text
    assert "Unassigned" not in text  # nor its stage
    assert "Open one of your leads" not in text
    assert "belong to colleagues" in text
    assert not any(label.startswith(("👁", "📝")) for label in found.labels)


async def test_portal_refusals_say_what_is_wrong_and_who_can_fix_it(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Balcony", "check and send")
    portal_emulator.faults.refuse_method("crm.lead.add", "ACCESS_DENIED", "Access denied!")
    await user.press("✅ Create lead")
    refused = await user.wait_for_message(has("lacks permission"))
    text = refused.text or ""
    assert "crm.lead.add" in text
    assert "Bitrix24 admin" in text
    assert "isn't reachable" not in text
    assert "draft is kept" in text
    assert portal_emulator.leads == {}

    # Any other flow: a portal without the method says so instead of "try again".
    portal_emulator.faults.clear()
    portal_emulator.faults.refuse_method(
        "crm.lead.add", "ERROR_METHOD_NOT_FOUND", "Method not found!", 404
    )
    await user.press("🔁 Try again")
    missing = await user.wait_for_message(has("does not offer crm.lead.add"))
    assert "isn't reachable" not in (missing.text or "")

    portal_emulator.faults.clear()
    portal_emulator.set_webhook_scopes(["user"])
    await user.press("🔁 Try again")
    scope = await user.wait_for_message(has("lacks the scope"))
    assert "Bitrix24 admin" in (scope.text or "")
    portal_emulator.set_webhook_scopes(["crm", "user"])
    await user.press("🔁 Try again")
    await user.wait_for_message(has("is created"))
    assert len(portal_emulator.leads) == 1


async def test_a_one_line_custom_text_field_asks_for_one_line(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    portal_emulator.add_user_field(
        {"FIELD_NAME": "GATE", "USER_TYPE_ID": "string", "MANDATORY": "Y", "LABEL": "Gate code"},
        fire=False,
    )
    await choose_form_fields(running_bot, ["COMMENTS"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    comments = await user.wait_for_message(has("Comments"))
    assert "several lines" in (comments.text or "")
    gate = await press(user, "⏭ Skip", "Gate code")
    assert "in one line" in (gate.text or "")
    assert "several lines" not in (gate.text or "")
    summary = await answer(user, "north\ngate 42", "check and send")
    assert "Gate code: north gate 42" in (summary.text or "")


async def test_forwarded_message_fills_name_phone_and_e_mail(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(
        running_bot, ["TITLE", "NAME", "LAST_NAME", "PHONE", "EMAIL", "COMMENTS"]
    )
    user = await ivan(telegram_emulator)
    # Telegram gives the whole name as the first name when the sender typed it so.
    client = {"id": 5555, "is_bot": False, "first_name": "Pyotr Sidorov"}
    text = "Need 20 windows. Call 8 (916) 555-12-34 or write Pyotr.S@Example.com"
    await user.forward(text, from_user=client)
    await user.wait_for_message(has("Lead Title"))
    summary = await answer(user, "Windows for Pyotr", "check and send")
    shown = summary.text or ""
    assert "First Name: Pyotr" in shown
    assert "Last Name: Sidorov" in shown
    assert f"Phone: {CLIENT_PHONE}" in shown
    assert "E-mail: Pyotr.S@example.com" in shown
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert (lead["NAME"], lead["LAST_NAME"]) == ("Pyotr", "Sidorov")
    assert [p["VALUE"] for p in lead["PHONE"]] == [CLIENT_PHONE]
    assert [e["VALUE"] for e in lead["EMAIL"]] == ["Pyotr.S@example.com"]
    assert lead["COMMENTS"] == text


async def test_a_forward_over_a_half_filled_draft_asks_first(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE", "NAME", "PHONE", "COMMENTS"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Kitchen windows", "First Name")
    await answer(user, "Maria", "Phone")

    # Keep: the draft stays, at the question the rep was at.
    await user.forward("Call me at 8 916 555 12 34", sender_name="Anna K.")
    asked = await user.wait_for_message(has("You have a lead draft open"))
    assert f"Phone: {CLIENT_PHONE}" in (asked.text or "")
    await press(user, "✖️ Keep the draft as it is", "Phone")

    # Add: empty fields are filled, the rep's answers stay.
    await user.forward("Call me at 8 916 555 12 34", sender_name="Anna K.")
    await user.wait_for_message(has("You have a lead draft open"))
    summary = await press(user, "➕ Add to the open draft", "check and send")
    text = summary.text or ""
    assert "Lead Title: Kitchen windows" in text
    assert "First Name: Maria" in text
    assert f"Phone: {CLIENT_PHONE}" in text
    assert "Comments: Call me at 8 916 555 12 34" in text

    # Replace: a shared contact starts a new draft from its details.
    await user.share_contact("79162345678", first_name="Oleg", last_name="Orlov", user_id=None)
    await user.wait_for_message(has("You have a lead draft open"))
    await press(user, "🔄 Replace the draft", "Lead Title")
    await answer(user, "Oleg's doors", "Comments")
    summary = await press(user, "⏭ Skip", "check and send")
    text = summary.text or ""
    assert "First Name: Oleg" in text
    assert "Phone: +79162345678" in text
    assert "Kitchen windows" not in text
    assert portal_emulator.leads == {}


async def test_after_the_grace_a_lead_the_portal_never_saved_is_added(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    await choose_form_fields(running_bot, ["TITLE"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Shed", "check and send")
    # The connection drops before the portal runs the request: nothing was saved.
    portal_emulator.faults.drop_next(1)
    await user.press("✅ Create lead")
    await user.wait_for_message(has("did not confirm"), timeout=10)
    await user.press("🔁 Try again")
    await user.wait_for_message(has("has not shown the lead yet"))
    assert portal_emulator.leads == {}

    assert running_bot.dispatcher is not None
    capture: CaptureService = running_bot.dispatcher["capture"]
    later = capture.now() + UNCONFIRMED_GRACE + timedelta(seconds=1)
    capture._clock = lambda: later  # the grace has passed
    await user.press("🔁 Try again")
    await user.wait_for_message(has("is created"))
    assert [lead["TITLE"] for lead in portal_emulator.leads.values()] == ["Shed"]
    assert portal_emulator.count_executed("crm.lead.add") == 1


def flatten_stored_drafts(db_path: Path) -> list[str]:
    """Rewrite every stored capture draft into the flat shape of the version before the
    draft had a record of its own; returns the drafts' ORIGIN_IDs."""
    origins: list[str] = []

    def flatten(dialog_data: dict[str, Any]) -> bool:
        if "draft" not in dialog_data:
            return False
        draft = dialog_data.pop("draft")
        dialog_data.update(
            codes=draft["codes"],
            values=draft["values"],
            origin_id=draft["origin_id"],
            assignee=draft["assigned_by_id"],
            attempted=draft["attempted"],
        )
        origins.append(draft["origin_id"])
        return True

    rewrite_stored_dialog_data(db_path, flatten)
    return origins


async def test_a_rep_mid_capture_during_an_upgrade_keeps_the_draft(
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

    await bot_runner.stop()
    [origin] = flatten_stored_drafts(app.settings.storage.path)
    await bot_runner.start()

    summary = await answer(user, "Call after 6 pm", "check and send")
    assert "Lead Title: Roof repair" in (summary.text or "")
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert lead["TITLE"] == "Roof repair"
    assert lead["COMMENTS"] == "Call after 6 pm"
    assert lead["ORIGIN_ID"] == origin
    assert str(lead["ASSIGNED_BY_ID"]) == "2"


async def test_a_typed_answer_replayed_after_its_step_was_saved_is_not_taken_twice(
    bot_runner: Any, telegram_emulator: TelegramEmulator, portal_emulator: Bitrix24Emulator
) -> None:
    """The title was taken and the next question sent; the process died before the update was
    marked handled. The restart replays it on the saved step, where the title would be taken
    as the comment too: the question it would send is not the one sent, so it stops there."""
    app = await bot_runner.start()
    await choose_form_fields(app, ["TITLE", "COMMENTS"])
    user = await ivan(telegram_emulator)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await eventually(lambda: _nothing_waiting(app))

    await dies_before_marking(app, lambda: answer(user, "Roof repair", "Comments"))
    sent = len(telegram_emulator.events(user.user["id"]))
    app = await bot_runner.start()
    await eventually(lambda: _nothing_waiting(app))
    assert len(telegram_emulator.events(user.user["id"])) == sent

    summary = await answer(user, "Call after 6 pm", "check and send")
    assert "Lead Title: Roof repair" in (summary.text or "")
    await user.press("✅ Create lead")
    await user.wait_for_message(has("is created"))
    [lead] = portal_emulator.leads.values()
    assert (lead["TITLE"], lead["COMMENTS"]) == ("Roof repair", "Call after 6 pm")


async def _nothing_waiting(app: Application) -> bool:
    return await app.updates.waiting_count() == 0
