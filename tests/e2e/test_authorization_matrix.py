"""Who may do what: every kind of action, tried by every kind of caller, on a lead that is
not theirs. Exactly the expected ones succeed; the rest are refused on the server side.

The callers: somebody not signed in, a rep (the lead belongs to a colleague), a manager and an
admin. Actions go through the bot's user interface where a user can reach them (a command, a
deep link, an inline query, a group subscription) and through the services behind every button
(what a forged or replayed button ends in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import pytest

from bot.access.roles import Identity, Role
from bot.access.service import AccessDenied
from bot.admin.fields import CustomFieldService
from bot.app import Application
from bot.i18n import Translations
from bot.leads.contacts import LeadContactsService
from bot.leads.products import LeadProductsService
from bot.leads.service import FieldNotEditableError, LeadService
from bot.leads.visibility import LeadHiddenError
from bot.portal import LeadChanges
from bot.speed.escalation import AssignOutcome, EscalationService
from bot.storage import BindingRepository
from tests.e2e.conftest import ADMIN_TELEGRAM_ID, sign_in
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.telegram_driver import TelegramUser

OWNER_PORTAL_ID = 3  # Olga Smirnova owns every lead of these scenarios
CALLERS = {
    # caller: (telegram id, first name, phone, role given after sign-in)
    "rep": (2001, "Ivan", "+79161234567", Role.REP),
    "manager": (2005, "Maria", "+79165550000", Role.MANAGER),
    "admin": (ADMIN_TELEGRAM_ID, "Anna", "+79160000001", Role.ADMIN),
}
GROUP_ID = -100777
TR = Translations.load().for_language("en")

EXPECTED = {
    "rep": {
        "find_by_id": "refused",
        "deep_link": "refused",
        "inline_query": "refused",
        "view_card": "refused",
        "change_stage": "refused",
        "add_note": "refused",
        "take": "refused",
        "reassign": "refused",
        "assign_untaken": "refused",
        "delete": "refused",
        "view_contacts": "refused",
        "link_contact": "refused",
        "create_contact": "refused",
        "view_products": "refused",
        "add_product": "refused",
        "group_subscription": "refused",
        "list_bindings": "refused",
        "create_invite": "refused",
        "manage_fields": "refused",
    },
    "manager": {
        "find_by_id": "ok",
        "deep_link": "ok",
        "inline_query": "ok",
        "view_card": "ok",
        "change_stage": "ok",
        "add_note": "ok",
        "take": "ok",
        "reassign": "ok",
        "assign_untaken": "ok",
        "delete": "ok",
        "view_contacts": "ok",
        "link_contact": "ok",
        "create_contact": "ok",
        "view_products": "ok",
        "add_product": "ok",
        "group_subscription": "ok",
        "list_bindings": "refused",
        "create_invite": "refused",
        "manage_fields": "refused",
    },
}
EXPECTED["admin"] = dict.fromkeys(EXPECTED["manager"], "ok")

Outcome = str
T = TypeVar("T")


def _service(app: Application, name: str, kind: type[T]) -> T:
    assert app.dispatcher is not None
    service = app.dispatcher[name]
    assert isinstance(service, kind)
    return service


async def _service_outcome(call: Callable[[], Awaitable[object]]) -> Outcome:
    try:
        await call()
    except (LeadHiddenError, AccessDenied, PermissionError, FieldNotEditableError):
        return "refused"
    return "ok"


async def _ui_card_outcome(user: TelegramUser, command: str, title: str) -> Outcome:
    await user.send(command)
    reply = await user.wait_for_message(
        lambda m: title in (m.text or "") or "don't have access" in (m.text or "")
    )
    return "ok" if title in (reply.text or "") else "refused"


async def _sign_in_as(
    app: Application, telegram: TelegramEmulator, caller: str
) -> tuple[TelegramUser, Identity]:
    telegram_id, name, phone, role = CALLERS[caller]
    user = await sign_in(telegram, telegram_id, name, phone)
    if role is not Role.ADMIN:
        await BindingRepository(app.db).set_role(telegram_id, role)
    assert app.access is not None
    identity = await app.access.identify(telegram_id)
    assert identity is not None
    assert identity.role is role
    return user, identity


@pytest.fixture
def portal_with_manager(portal_emulator: Bitrix24Emulator) -> Bitrix24Emulator:
    """The default portal plus Maria, a sales manager."""
    portal_emulator.add_user("Maria", "Manager", user_id=5, personal_mobile="+79165550000")
    return portal_emulator


@pytest.mark.parametrize("caller", ["rep", "manager", "admin"])
async def test_each_role_may_do_exactly_its_share(
    portal_with_manager: Bitrix24Emulator,
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
    caller: str,
) -> None:
    portal = portal_with_manager
    app = running_bot
    user, identity = await _sign_in_as(app, telegram_emulator, caller)
    leads = _service(app, "leads", LeadService)
    contacts = _service(app, "lead_contacts", LeadContactsService)
    products = _service(app, "lead_products", LeadProductsService)
    fields = _service(app, "custom_fields", CustomFieldService)

    def new_lead(title: str) -> int:
        return portal.add_lead({"TITLE": title, "ASSIGNED_BY_ID": OWNER_PORTAL_ID}, 1)

    outcomes: dict[str, Outcome] = {}
    lead_id = new_lead("Matrix lead")
    outcomes["find_by_id"] = await _ui_card_outcome(user, f"/find #{lead_id}", "Matrix lead")
    outcomes["deep_link"] = await _ui_card_outcome(user, f"/start lead_{lead_id}", "Matrix lead")
    answer = await user.inline_query("Matrix")
    outcomes["inline_query"] = "ok" if answer.results else "refused"

    outcomes["view_card"] = await _service_outcome(lambda: leads.load_card(identity, lead_id))
    outcomes["change_stage"] = await _service_outcome(
        lambda: leads.change_stage(identity, lead_id, "IN_PROCESS", tr=TR)
    )
    outcomes["add_note"] = await _service_outcome(
        lambda: leads.add_note(identity, lead_id, "matrix note", tr=TR)
    )
    take_id = new_lead("Take me")
    outcomes["take"] = await _service_outcome(lambda: leads.take(identity, take_id))
    # What a forged edit of the responsible ends in (the card never offers it to reps).
    reassign_id = new_lead("Reassign me")
    outcomes["reassign"] = await _service_outcome(
        lambda: leads.update_fields(identity, reassign_id, LeadChanges(assigned_by_id=2))
    )
    # "Assign to…" of an escalation, whatever the dialog showed.
    assign_id = new_lead("Assign me")
    escalations = _service(app, "escalations", EscalationService)
    assigned = await escalations.assign(identity, assign_id, 2)
    outcomes["assign_untaken"] = "ok" if assigned.outcome is AssignOutcome.ASSIGNED else "refused"
    delete_id = new_lead("Delete me")
    outcomes["delete"] = await _service_outcome(lambda: leads.delete(identity, delete_id))
    outcomes["view_contacts"] = await _service_outcome(lambda: contacts.view(identity, lead_id))
    contact_id = portal.add_contact({"NAME": "Client"}, 1)
    outcomes["link_contact"] = await _service_outcome(
        lambda: contacts.link(identity, lead_id, contact_id)
    )
    person_id = portal.add_lead(
        {"TITLE": "Person", "NAME": "Client", "ASSIGNED_BY_ID": OWNER_PORTAL_ID}, 1
    )
    outcomes["create_contact"] = await _service_outcome(
        lambda: contacts.create_from_lead(identity, person_id)
    )
    outcomes["view_products"] = await _service_outcome(lambda: products.view(identity, lead_id))
    product_id = next(iter(portal.products))

    async def add_product() -> None:
        seen = await products.view(
            Identity(identity.telegram_user_id, OWNER_PORTAL_ID, Role.REP), lead_id
        )
        await products.add_row(
            identity,
            lead_id,
            product_id=product_id,
            quantity=Decimal(1),
            price=Decimal(10),
            seen_signature=seen.signature,
        )

    outcomes["add_product"] = await _service_outcome(add_product)

    telegram_emulator.add_group(GROUP_ID, "Sales", admins=[identity.telegram_user_id])
    in_group = user.in_group(GROUP_ID)
    await in_group.send("/subscribe")
    reply = await in_group.wait_for_message()
    outcomes["group_subscription"] = "ok" if "Subscribed" in (reply.text or "") else "refused"

    assert app.access is not None
    access = app.access
    outcomes["list_bindings"] = await _service_outcome(lambda: access.list_bindings(identity))
    outcomes["create_invite"] = await _service_outcome(
        lambda: access.create_invite(identity, OWNER_PORTAL_ID, Role.REP)
    )
    outcomes["manage_fields"] = await _service_outcome(lambda: fields.list_fields(identity, "en"))

    assert outcomes == EXPECTED[caller]
    if caller == "rep":
        assert portal.leads[lead_id]["STATUS_ID"] == "NEW"
        assert delete_id in portal.leads
        assert str(portal.leads[take_id]["ASSIGNED_BY_ID"]) == str(OWNER_PORTAL_ID)
        assert str(portal.leads[reassign_id]["ASSIGNED_BY_ID"]) == str(OWNER_PORTAL_ID)
        assert str(portal.leads[assign_id]["ASSIGNED_BY_ID"]) == str(OWNER_PORTAL_ID)
        assert portal.lead_contacts.get(person_id, []) == []


async def test_somebody_not_signed_in_reaches_nothing(
    portal_emulator: Bitrix24Emulator,
    running_bot: Application,
    telegram_emulator: TelegramEmulator,
) -> None:
    lead_id = portal_emulator.add_lead(
        {"TITLE": "Matrix lead", "ASSIGNED_BY_ID": OWNER_PORTAL_ID}, 1
    )
    stranger = telegram_emulator.user(2999, "Eve")
    for command in (f"/find #{lead_id}", f"/start lead_{lead_id}", "/new", "/my", "/status"):
        await stranger.send(command)
        reply = await stranger.wait_for_message()
        assert "Matrix lead" not in (reply.text or "")
        assert "Share my phone" in (reply.text or "") or "not signed in" in (reply.text or "")
    answer = await stranger.inline_query("Matrix")
    assert answer.results == []
    telegram_emulator.add_group(GROUP_ID, "Sales", admins=[2999])
    in_group = stranger.in_group(GROUP_ID)
    await in_group.send("/subscribe")
    await telegram_emulator.wait_until_delivered()
    assert not any("Subscribed" in (m.text or "") for m in in_group.transcript())
    assert running_bot.db is not None
    row = await running_bot.db.fetch_one("SELECT count(*) FROM subscriptions")
    assert row is not None
    assert row[0] == 0
