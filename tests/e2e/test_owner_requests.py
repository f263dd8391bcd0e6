"""🙋 Ask the owner: a rep whose new client is a colleague's lead asks for it.

The real bot, its sender and both emulators: the owner and the managers get the request with
the client's details and the rep's note; only the lead's responsible or a manager can hand it
over (once) or answer, and the rep hears back in Telegram.
"""

from __future__ import annotations

from bot.app import Application
from bot.leads.owner_requests import OwnerRequestButton, RequestAction
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.e2e.test_capture import (
    ANNA_PHONE,
    CLIENT_PHONE,
    add_portal_lead,
    answer,
    choose_form_fields,
    has,
    ivan,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser
from tests.emulators.telegram_models import ChatMessage

OLGA_TELEGRAM_ID = 3001
OLGA_PHONE = "+79162345678"  # portal user 3, Olga Smirnova
IVAN_PORTAL, OLGA_PORTAL = 2, 3
ASK = "🙋 Ask Olga Smirnova for it"
HAND_OVER = "✅ Hand the lead over"
ANSWER = "💬 Answer"


async def ask_for_olgas_lead(
    app: Application, telegram: TelegramEmulator, note: str | None
) -> TelegramUser:
    """Ivan types in a client who is already Olga's lead and asks her for it."""
    await choose_form_fields(app, ["TITLE", "NAME", "PHONE"])
    user = await ivan(telegram)
    await user.send("/new")
    await user.wait_for_message(has("Lead Title"))
    await answer(user, "Porch <b>glass</b>", "Name")
    await answer(user, "Anna <Client>", "Phone")
    await answer(user, CLIENT_PHONE, "check and send")
    await user.press("✅ Create lead")
    found = await user.wait_for_message(has("Possible duplicates"))
    assert ASK in found.labels
    await user.press(ASK)
    await user.wait_for_message(has("will ask Olga Smirnova"))
    if note is None:
        await user.press("📨 Send without a note")
    else:
        await user.send(note)
    return user


async def request_to(user: TelegramUser) -> ChatMessage:
    return await user.wait_for_message(has("🙋"))


async def test_owner_hands_the_lead_over_and_the_rep_is_told(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_portal_lead(
        portal_emulator, "Olga's deal", owner=OLGA_PORTAL, phone=CLIENT_PHONE
    )
    olga = await sign_in(telegram_emulator, OLGA_TELEGRAM_ID, "Olga", OLGA_PHONE)
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)

    note = "They called me <today> & then"
    user = await ask_for_olgas_lead(running_bot, telegram_emulator, note)

    sent = await user.wait_for_message(has("Sent to Olga Smirnova and the managers"))
    assert "Possible duplicates" in (sent.text or "")  # back on the matches, draft kept
    request = await request_to(olga)
    text = request.text or ""
    assert "Ivan Petrov" in text
    assert "Olga's deal" in text
    assert "Anna <Client>" in text  # escaped on the way, shown as typed
    assert CLIENT_PHONE in text
    assert note in text
    assert request.labels[:2] == [HAND_OVER, ANSWER]
    managers_copy = await request_to(anna)
    assert "responsible: Olga Smirnova" in (managers_copy.text or "")

    answered = await olga.press_and_wait(HAND_OVER, message_id=request.message_id)
    assert answered.text == "✅ Handed over to Ivan Petrov."
    assert portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"] == str(IVAN_PORTAL)
    told = await user.wait_for_message(has("handed you the lead"))
    assert "Olga Smirnova" in (told.text or "")
    assert "Open card" in " ".join(told.labels)
    settled = await olga.wait_for_message(has("Handed over to Ivan Petrov"))
    assert HAND_OVER not in settled.labels

    # The manager's copy is settled too: its buttons go, and a press sent anyway (an old
    # client, a forged update) changes nothing.
    await anna.wait_for_message(
        lambda m: m.message_id == managers_copy.message_id and not m.labels
    )
    data = managers_copy.button(HAND_OVER).callback_data or ""
    query = await anna.press_data(managers_copy.message_id, data)
    late = await telegram_emulator.wait_for_callback_answer(query)
    assert late.text == "This request is already settled."
    assert portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"] == str(IVAN_PORTAL)


async def test_only_the_responsible_or_a_manager_may_hand_over_or_answer(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    lead_id = add_portal_lead(
        portal_emulator, "Olga's deal", owner=OLGA_PORTAL, phone=CLIENT_PHONE
    )
    olga = await sign_in(telegram_emulator, OLGA_TELEGRAM_ID, "Olga", OLGA_PHONE)
    user = await ask_for_olgas_lead(running_bot, telegram_emulator, None)
    request = await request_to(olga)
    request_id = OwnerRequestButton.unpack(request.button(HAND_OVER).callback_data or "").id

    # Ivan forges both buttons in his own chat: refused, the lead stays Olga's.
    mine = user.transcript()[-1]
    for action in RequestAction:
        data = OwnerRequestButton(action=action, id=request_id).pack()
        query = await user.press_data(mine.message_id, data)
        refusal = await telegram_emulator.wait_for_callback_answer(query)
        assert refusal.text == "Only the lead's responsible or a manager can do this."
    assert portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"] == str(OLGA_PORTAL)

    # Olga answers instead of handing over; Ivan reads it, the lead stays hers.
    await olga.press(ANSWER, message_id=request.message_id)
    await olga.wait_for_message(has("Send your answer to Ivan Petrov"))
    await olga.send("I am calling them <now>")
    await olga.wait_for_message(has("Your answer is sent to Ivan Petrov"))
    reply = await user.wait_for_message(has("about the lead"))
    assert "I am calling them <now>" in (reply.text or "")
    assert portal_emulator.leads[lead_id]["ASSIGNED_BY_ID"] == str(OLGA_PORTAL)


async def test_an_owner_outside_the_bot_is_asked_through_the_managers(
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    portal_emulator: Bitrix24Emulator,
) -> None:
    add_portal_lead(portal_emulator, "Olga's deal", OLGA_PORTAL, CLIENT_PHONE)
    anna = await sign_in(telegram_emulator, ADMIN_TELEGRAM_ID, "Anna", ANNA_PHONE)
    user = await ask_for_olgas_lead(running_bot, telegram_emulator, None)
    await user.wait_for_message(has("is not in the bot, so the request went to the managers"))
    await request_to(anna)

    # Asking again while the request is open sends nothing new.
    await user.press(ASK)
    await user.wait_for_message(has("will ask"))
    await user.press("📨 Send without a note")
    await user.wait_for_message(has("You have already asked about this lead"))
    requests = [m for m in anna.transcript() if "🙋" in (m.text or "")]
    assert len(requests) == 1
