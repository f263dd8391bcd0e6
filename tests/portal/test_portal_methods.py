"""Every typed method of PortalClient against the portal emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.portal import (
    BatchCommand,
    CardElement,
    CardSection,
    ContactChanges,
    ContactDraft,
    CrmMode,
    LeadChanges,
    LeadContactBinding,
    LeadDraft,
    MultiFieldChange,
    NotFoundError,
    OAuthAuth,
    PortalClient,
    ProductRow,
    Semantics,
    UserFieldChanges,
    UserFieldDraft,
    UserFieldEnumItem,
    result_ref,
)
from tests.emulators.bitrix24 import Bitrix24Emulator
from tests.portal.conftest import ClientFactory


async def test_rep_creates_reads_changes_and_deletes_a_lead(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(
        LeadDraft(
            title="Visit at Titov",
            name="Gleb",
            last_name="Titov",
            opportunity=Decimal("12500.50"),
            phone=[MultiFieldChange.add("+79990001122", "MOBILE")],
            email=[MultiFieldChange.add("gleb@example.test")],
        )
    )
    lead = await client.get_lead(lead_id)
    assert lead.id == lead_id
    assert lead.title == "Visit at Titov"
    assert lead.opportunity == Decimal("12500.50")
    assert lead.status_id == "NEW"
    assert lead.date_closed is None
    assert lead.originator_id == "tg-bot"
    assert lead.origin_id
    assert [p.value for p in lead.phone] == ["+79990001122"]

    phone_id = lead.phone[0].id
    assert phone_id is not None
    email_id = lead.email[0].id
    assert email_id is not None
    changes = LeadChanges(
        status_id="IN_PROCESS",
        phone=[MultiFieldChange.change(phone_id, "+79990003344"), MultiFieldChange.add("+7111")],
        email=[MultiFieldChange.delete(email_id)],
    )
    assert await client.update_lead(lead_id, changes) is True
    lead = await client.get_lead(lead_id)
    assert lead.status_id == "IN_PROCESS"
    assert sorted(p.value for p in lead.phone) == ["+7111", "+79990003344"]
    assert lead.email == []

    assert await client.delete_lead(lead_id) is True
    with pytest.raises(NotFoundError):
        await client.get_lead(lead_id)
    assert lead_id not in portal_emulator.leads


async def test_user_fields_survive_reading_and_writing(client: PortalClient) -> None:
    field_id = await client.add_lead_userfield(
        UserFieldDraft(user_type_id="string", field_name="TG_CHAT", label="Telegram chat")
    )
    field = await client.get_lead_userfield(field_id)
    assert field.field_name == "UF_CRM_TG_CHAT"
    lead_id = await client.add_lead(LeadDraft(title="With UF", UF_CRM_TG_CHAT="12345"))
    lead = await client.get_lead(lead_id)
    assert lead.user_fields["UF_CRM_TG_CHAT"] == "12345"
    fields = await client.lead_fields()
    assert fields["UF_CRM_TG_CHAT"].is_dynamic
    assert fields["UF_CRM_TG_CHAT"].title == "UF_CRM_TG_CHAT"
    assert fields["STATUS_ID"].status_type == "STATUS"


async def test_user_field_lifecycle(client: PortalClient) -> None:
    field_id = await client.add_lead_userfield(
        UserFieldDraft(
            user_type_id="enumeration",
            field_name="BUDGET",
            label={"en": "Budget", "ru": "Бюджет"},
            items=[UserFieldEnumItem(value="small"), UserFieldEnumItem(value="big")],
        )
    )
    listed = await client.list_lead_userfields(filter={"FIELD_NAME": "UF_CRM_BUDGET"})
    assert [f.id for f in listed] == [field_id]
    assert await client.update_lead_userfield(field_id, UserFieldChanges(sort=500)) is True
    field = await client.get_lead_userfield(field_id)
    assert field.sort == 500
    assert field.items is not None
    assert [item.value for item in field.items] == ["small", "big"]
    assert await client.delete_lead_userfield(field_id) is True
    with pytest.raises(NotFoundError):
        await client.get_lead_userfield(field_id)


async def test_list_leads_pages_with_total_and_next(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    portal_emulator.seed_leads(120)
    page = await client.list_leads(order={"ID": "ASC"}, select=["ID", "TITLE"])
    assert len(page.items) == 50
    assert page.total == 120
    assert page.next == 50
    last = await client.list_leads(order={"ID": "ASC"}, start=100)
    assert len(last.items) == 20
    assert last.next is None
    counted_not = await client.list_leads(start=-1)
    assert counted_not.total == 0


async def test_product_rows_replace_the_set(client: PortalClient) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Chairs"))
    rows = [
        ProductRow(product_name="Chair", price=Decimal("100"), quantity=Decimal("3")),
        ProductRow(product_name="Table", price=Decimal("250.50"), quantity=Decimal("1")),
    ]
    assert await client.set_lead_products(lead_id, rows) is True
    got = await client.get_lead_products(lead_id)
    assert [(r.product_name, r.price, r.quantity) for r in got] == [
        ("Chair", Decimal("100"), Decimal("3")),
        ("Table", Decimal("250.50"), Decimal("1")),
    ]
    assert all(r.owner_id == lead_id for r in got)
    assert await client.set_lead_products(lead_id, []) is True
    assert await client.get_lead_products(lead_id) == []


async def test_lead_contacts_bind_unbind_and_replace(client: PortalClient) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Family"))
    first = await client.add_contact(ContactDraft(name="Anna"))
    second = await client.add_contact(ContactDraft(name="Boris"))
    assert await client.add_lead_contact(lead_id, LeadContactBinding(contact_id=first)) is True
    assert await client.add_lead_contact(lead_id, LeadContactBinding(contact_id=first)) is False
    assert await client.add_lead_contact(lead_id, LeadContactBinding(contact_id=second)) is True
    bindings = await client.get_lead_contacts(lead_id)
    assert [(b.contact_id, b.is_primary) for b in bindings] == [(first, True), (second, False)]
    assert await client.delete_lead_contact(lead_id, first) is True
    bindings = await client.get_lead_contacts(lead_id)
    assert [(b.contact_id, b.is_primary) for b in bindings] == [(second, True)]
    replaced = [
        LeadContactBinding(contact_id=first, sort=10, is_primary=True),
        LeadContactBinding(contact_id=second, sort=20),
    ]
    assert await client.set_lead_contacts(lead_id, replaced) is True
    assert [b.contact_id for b in await client.get_lead_contacts(lead_id)] == [first, second]
    assert await client.clear_lead_contacts(lead_id) is True
    assert await client.get_lead_contacts(lead_id) == []
    fields = await client.lead_contact_fields()
    assert fields["CONTACT_ID"].is_required


async def test_lead_card_layout(client: PortalClient) -> None:
    sections = [
        CardSection(
            name="main",
            title="About the lead",
            elements=[CardElement(name="TITLE"), CardElement(name="PHONE", option_flags=1)],
        )
    ]
    assert await client.set_lead_card(sections, scope="C") is True
    stored = await client.get_lead_card(scope="C")
    assert stored is not None
    assert [e.name for e in stored[0].elements] == ["TITLE", "PHONE"]
    assert await client.reset_lead_card(scope="C") is True
    assert await client.get_lead_card(scope="C") is None
    assert await client.force_common_lead_card() is True


async def test_stages_and_sources(client: PortalClient) -> None:
    stages = await client.lead_stages()
    assert [s.status_id for s in stages][:3] == ["NEW", "IN_PROCESS", "PROCESSED"]
    by_id = {s.status_id: s for s in stages}
    assert by_id["CONVERTED"].semantics is Semantics.SUCCESS
    assert by_id["JUNK"].semantics is Semantics.FAILURE
    assert by_id["NEW"].semantics is Semantics.PROCESS
    sources = await client.lead_sources()
    assert "CALL" in {s.status_id for s in sources}


async def test_contacts_and_duplicate_search(client: PortalClient) -> None:
    contact_id = await client.add_contact(
        ContactDraft(name="Olga", phone=[MultiFieldChange.add("+79161112233", "MOBILE")])
    )
    contact = await client.get_contact(contact_id)
    assert contact.name == "Olga"
    assert await client.update_contact(contact_id, ContactChanges(last_name="Smirnova")) is True
    page = await client.list_contacts(filter={"PHONE": "+79161112233"}, select=["ID", "NAME"])
    assert [c.id for c in page.items] == [contact_id]
    lead_id = await client.add_lead(
        LeadDraft(title="Call", phone=[MultiFieldChange.add("+79161112233")])
    )
    found = await client.find_duplicates("PHONE", ["+79161112233"])
    assert found.contact == [contact_id]
    assert found.lead == [lead_id]
    nothing = await client.find_duplicates("EMAIL", ["nobody@example.test"])
    assert nothing.empty


async def test_timeline_products_users_and_mode(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Noted"))
    comment_id = await client.add_timeline_comment("lead", lead_id, "Called, will decide Monday")
    assert comment_id > 0
    products = await client.list_products()
    assert products.items
    assert all(p.price is not None for p in products.items)
    users = await client.get_users({"ACTIVE": True})
    assert {u.id for u in users} == {1, 2, 3}
    everybody = await client.get_users()
    assert len(everybody) == len(portal_emulator.users)
    me = await client.current_user()
    assert me.id == 1
    assert await client.crm_mode() is CrmMode.CLASSIC
    portal_emulator.simple_mode = True
    assert await client.crm_mode() is CrmMode.SIMPLE


async def test_events_bind_list_and_unbind_with_oauth(
    portal_emulator: Bitrix24Emulator, make_client: ClientFactory
) -> None:
    access, refresh = portal_emulator.issue_oauth_tokens(user_id=1)
    client = make_client(
        OAuthAuth(
            endpoint=portal_emulator.oauth_endpoint,
            access_token=access,
            refresh_token=refresh,
            client_id=portal_emulator.client_id,
            client_secret=portal_emulator.client_secret,
            token_url=portal_emulator.token_url,
        )
    )
    handler = "https://bot.example.test/bitrix/events"
    assert await client.bind_event("ONCRMLEADADD", handler) is True
    assert await client.bind_event("ONCRMLEADUPDATE", handler) is True
    handlers = await client.get_events()
    assert {(h.event, h.handler) for h in handlers} == {
        ("ONCRMLEADADD", handler),
        ("ONCRMLEADUPDATE", handler),
    }
    assert await client.unbind_event("ONCRMLEADADD", handler) == 1
    assert [h.event for h in await client.get_events()] == ["ONCRMLEADUPDATE"]


async def test_batch_of_more_than_fifty_commands_is_split(
    client: PortalClient, portal_emulator: Bitrix24Emulator
) -> None:
    ids = portal_emulator.seed_leads(120)
    calls_before = portal_emulator.count_calls("batch")
    result = await client.batch([BatchCommand("crm.lead.get", {"id": i}) for i in ids])
    assert portal_emulator.count_calls("batch") - calls_before == 3
    assert len(result.results) == 120
    assert [int(result[f"c{i}"]["ID"]) for i in range(120)] == ids
    result.raise_for_errors()


async def test_batch_links_and_per_command_errors(client: PortalClient) -> None:
    lead_id = await client.add_lead(LeadDraft(title="Linked"))
    result = await client.batch(
        {
            "lead": BatchCommand("crm.lead.get", {"id": lead_id}),
            "same": BatchCommand("crm.lead.get", {"id": result_ref("lead", "ID")}),
            "missing": BatchCommand("crm.lead.get", {"id": 999999}),
        }
    )
    assert result["same"]["TITLE"] == "Linked"
    assert isinstance(result.errors["missing"], NotFoundError)
    with pytest.raises(NotFoundError):
        result.raise_for_errors()


async def test_batch_halt_stops_at_the_first_error(client: PortalClient) -> None:
    result = await client.batch(
        [
            BatchCommand("crm.lead.get", {"id": 999999}),
            BatchCommand("crm.settings.mode.get"),
        ],
        halt=True,
    )
    assert list(result.errors) == ["c0"]
    assert result.missing() == ["c1"]
