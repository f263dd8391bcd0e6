"""Lead contacts service against the portal emulator: checks, writes, bot_actions, requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.access.roles import Identity, Role
from bot.leads.actions import BotActionLog
from bot.leads.contacts import (
    BATCHED_CONTACTS,
    ContactSearchError,
    ContactSearchProblem,
    LeadContactsService,
    WriteInProgressError,
    mask_phone,
)
from bot.leads.visibility import LeadHiddenError
from bot.portal import (
    BatchResult,
    NotFoundError,
    OutcomeUnknownError,
    PortalClient,
    PortalLimiter,
    ValidationError,
    WebhookAuth,
)
from bot.storage import Database
from tests.emulators.bitrix24 import Bitrix24Emulator

IVAN = Identity(telegram_user_id=2001, portal_user_id=2, role=Role.REP, name="Ivan Petrov")
OLGA = Identity(telegram_user_id=3001, portal_user_id=3, role=Role.REP, name="Olga Smirnova")
ANNA = Identity(telegram_user_id=1001, portal_user_id=1, role=Role.ADMIN, name="Anna Admin")


@pytest.fixture
async def portal(portal_emulator: Bitrix24Emulator) -> AsyncIterator[PortalClient]:
    client = PortalClient(
        auth=WebhookAuth(portal_emulator.webhook_url),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        backoff_base=0.001,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def service(portal: PortalClient, db: Database) -> LeadContactsService:
    return LeadContactsService(portal, BotActionLog(db), default_region="RU")


def ivans_lead(portal_emulator: Bitrix24Emulator) -> int:
    return portal_emulator.ui_add_lead(
        {
            "TITLE": "Windows for the dacha",
            "NAME": "Sergey",
            "LAST_NAME": "Kuznetsov",
            "ASSIGNED_BY_ID": 2,
            "PHONE": [{"VALUE": "+79035550101", "VALUE_TYPE": "MOBILE"}],
            "EMAIL": [{"VALUE": "sergey@example.test", "VALUE_TYPE": "WORK"}],
        }
    )


def contact(portal_emulator: Bitrix24Emulator, name: str, last: str, phone: str) -> int:
    return portal_emulator.add_contact(
        {"NAME": name, "LAST_NAME": last, "PHONE": [{"VALUE": phone, "VALUE_TYPE": "WORK"}]},
        1,
        fire=False,
    )


async def actions(db: Database) -> list[tuple[int, int, int, str]]:
    rows = await db.fetch_all(
        "SELECT lead_id, telegram_user_id, portal_user_id, action FROM bot_actions ORDER BY id"
    )
    return [tuple(row) for row in rows]


async def test_list_is_one_batch_with_every_contact_in_order(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    first = contact(portal_emulator, "Anton", "Orlov", "+79160001111")
    second = contact(portal_emulator, "Boris", "Lvov", "8 (916) 000-22-22")
    portal_emulator.add_contact({"NAME": "Unrelated"}, 1, fire=False)
    await service.link(IVAN, lead_id, first)
    await service.link(IVAN, lead_id, second)
    before = portal_emulator.count_calls()
    view = await service.view(IVAN, lead_id)
    assert portal_emulator.count_calls() - before == 1
    assert [(c.contact_id, c.name, c.phone, c.is_primary) for c in view.contacts] == [
        (first, "Anton Orlov", "+79160001111", True),
        (second, "Boris Lvov", "8 (916) 000-22-22", False),
    ]
    assert view.lead.title == "Windows for the dacha"


async def test_list_with_more_contacts_than_one_batch_reads_the_rest_once(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    ids = [
        contact(portal_emulator, f"Person{i}", "X", f"+7916000{i:04d}")
        for i in range(BATCHED_CONTACTS + 3)
    ]
    portal_emulator.lead_contacts[lead_id] = [
        {
            "CONTACT_ID": cid,
            "SORT": 10 * (i + 1),
            "ROLE_ID": 0,
            "IS_PRIMARY": "Y" if i == 0 else "N",
        }
        for i, cid in enumerate(ids)
    ]
    before = portal_emulator.count_calls()
    view = await service.view(IVAN, lead_id)
    assert portal_emulator.count_calls() - before == 2
    assert [c.contact_id for c in view.contacts] == ids
    assert all(c.name for c in view.contacts)


async def test_empty_lead_lists_no_contacts(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    portal_emulator.add_contact({"NAME": "Zero"}, 1, fire=False)
    view = await service.view(IVAN, lead_id)
    assert view.contacts == []


async def test_phone_search_finds_any_stored_spelling_but_not_longer_numbers(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    e164 = contact(portal_emulator, "Anna", "E164", "+79161112233")
    national = contact(portal_emulator, "Boris", "National", "8 (916) 111-22-33")
    plain = contact(portal_emulator, "Vera", "Plain", "89161112233")
    contact(portal_emulator, "Other", "Number", "+79161112299")
    contact(portal_emulator, "Longer", "Number", "+791611122334")
    before = portal_emulator.count_calls()
    found = await service.search(IVAN, "8 916 111-22-33")
    assert portal_emulator.count_calls() - before == 1
    assert sorted(c.id for c in found if c.id) == sorted([e164, national, plain])


async def test_name_search_matches_first_or_last_name(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    anton = contact(portal_emulator, "Anton", "Orlov", "+79160001111")
    orlova = contact(portal_emulator, "Maria", "Orlova", "+79160002222")
    contact(portal_emulator, "Boris", "Lvov", "+79160003333")
    assert {c.id for c in await service.search(ANNA, "orlov")} == {anton, orlova}
    assert [c.id for c in await service.search(ANNA, "Anton Orlov")] == [anton]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a", ContactSearchProblem.TOO_SHORT),
        ("Or", ContactSearchProblem.TOO_SHORT),
        ("x" * 5000, ContactSearchProblem.TOO_LONG),
        ("+7 916 12", ContactSearchProblem.BAD_PHONE),
    ],
)
async def test_search_refuses_bad_text_without_asking_the_portal(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService, text: str, problem: str
) -> None:
    before = portal_emulator.count_calls()
    with pytest.raises(ContactSearchError) as refused:
        await service.search(IVAN, text)
    assert refused.value.problem == problem
    assert portal_emulator.count_calls() == before


async def test_link_unlink_and_primary_are_recorded(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService, db: Database
) -> None:
    lead_id = ivans_lead(portal_emulator)
    first = contact(portal_emulator, "Anton", "Orlov", "+79160001111")
    second = contact(portal_emulator, "Boris", "Lvov", "+79160002222")
    assert await service.link(IVAN, lead_id, first) is True
    assert await service.link(IVAN, lead_id, first) is False
    assert await service.link(IVAN, lead_id, second) is True

    before = portal_emulator.count_calls()
    assert await service.make_primary(IVAN, lead_id, second) is True
    assert portal_emulator.count_calls() - before == 2
    assert [
        (b["CONTACT_ID"], b["IS_PRIMARY"]) for b in portal_emulator.lead_contacts[lead_id]
    ] == [
        (first, "N"),
        (second, "Y"),
    ]
    assert portal_emulator.leads[lead_id]["CONTACT_ID"] == str(second)
    # Already primary: nothing to write.
    before = portal_emulator.count_calls()
    assert await service.make_primary(IVAN, lead_id, second) is True
    assert portal_emulator.count_calls() - before == 1

    assert await service.unlink(IVAN, lead_id, second) is True
    assert await service.unlink(IVAN, lead_id, second) is False
    assert await service.make_primary(IVAN, lead_id, second) is False
    # The portal promotes the remaining contact.
    assert portal_emulator.lead_contacts[lead_id][0]["IS_PRIMARY"] == "Y"
    assert await actions(db) == [
        (lead_id, 2001, 2, "contact_linked"),
        (lead_id, 2001, 2, "contact_linked"),
        (lead_id, 2001, 2, "contact_made_primary"),
        (lead_id, 2001, 2, "contact_unlinked"),
    ]


async def test_linking_an_id_that_is_no_contact_is_refused(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    with pytest.raises(NotFoundError):
        await service.link(IVAN, lead_id, 99999)
    assert portal_emulator.lead_contacts.get(lead_id, []) == []


async def test_create_from_lead_copies_the_person_and_links_in_one_batch(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService, db: Database
) -> None:
    lead_id = ivans_lead(portal_emulator)
    before = portal_emulator.count_calls()
    contact_id = await service.create_from_lead(IVAN, lead_id)
    assert portal_emulator.count_calls() - before == 2
    created = portal_emulator.contacts[contact_id]
    assert (created["NAME"], created["LAST_NAME"], created["ASSIGNED_BY_ID"]) == (
        "Sergey",
        "Kuznetsov",
        "2",
    )
    assert [p["VALUE"] for p in created["PHONE"]] == ["+79035550101"]
    assert [e["VALUE"] for e in created["EMAIL"]] == ["sergey@example.test"]
    assert portal_emulator.lead_contacts[lead_id][0]["CONTACT_ID"] == contact_id
    assert [row[3] for row in await actions(db)] == ["contact_created", "contact_linked"]


async def test_a_rep_cannot_touch_a_colleagues_lead(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService, db: Database
) -> None:
    lead_id = ivans_lead(portal_emulator)
    anton = contact(portal_emulator, "Anton", "Orlov", "+79160001111")
    await service.link(IVAN, lead_id, anton)
    for attempt in (
        service.view(OLGA, lead_id),
        service.link(OLGA, lead_id, anton),
        service.unlink(OLGA, lead_id, anton),
        service.make_primary(OLGA, lead_id, anton),
        service.create_from_lead(OLGA, lead_id),
    ):
        with pytest.raises(LeadHiddenError):
            await attempt
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [anton]
    assert len(portal_emulator.contacts) == 1
    assert len(await actions(db)) == 1
    # A missing lead looks the same to a rep; an admin is told it is gone.
    with pytest.raises(LeadHiddenError):
        await service.view(OLGA, 4242)
    with pytest.raises(NotFoundError):
        await service.view(ANNA, 4242)
    assert len((await service.view(ANNA, lead_id)).contacts) == 1


async def test_list_falls_back_to_one_more_read_when_the_linked_list_fails(
    portal_emulator: Bitrix24Emulator, db: Database
) -> None:
    class RefusingLinkedList(PortalClient):
        """A portal that refuses the `$result`-linked contact list (older servers might)."""

        async def batch(self, commands: Any, **kwargs: Any) -> BatchResult:
            result = await super().batch(commands, **kwargs)
            if "contacts" in result.results:
                del result.results["contacts"]
                result.errors["contacts"] = ValidationError(
                    "bad filter", method="crm.contact.list"
                )
            return result

    refusing = RefusingLinkedList(
        auth=WebhookAuth(portal_emulator.webhook_url),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
    )
    try:
        service = LeadContactsService(refusing, BotActionLog(db), default_region="RU")
        lead_id = ivans_lead(portal_emulator)
        anton = contact(portal_emulator, "Anton", "Orlov", "+79160001111")
        await service.link(IVAN, lead_id, anton)
        before = portal_emulator.count_calls()
        view = await service.view(IVAN, lead_id)
        assert portal_emulator.count_calls() - before == 2
        assert [(c.contact_id, c.name) for c in view.contacts] == [(anton, "Anton Orlov")]
    finally:
        await refusing.aclose()


async def test_a_rep_finds_by_name_only_contacts_of_his_own_leads(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    lead_id = ivans_lead(portal_emulator)
    own = contact(portal_emulator, "Anton", "Orlov", "+79160001111")
    await service.link(IVAN, lead_id, own)
    stranger = contact(portal_emulator, "Maria", "Orlova", "+79160002222")
    colleagues = contact(portal_emulator, "Pavel", "Orlovsky", "+79160003333")
    olgas_lead = portal_emulator.ui_add_lead({"TITLE": "Olga's", "ASSIGNED_BY_ID": 3})
    await service.link(OLGA, olgas_lead, colleagues)

    assert [c.id for c in await service.search(IVAN, "orlov")] == [own]
    assert [c.id for c in await service.search(OLGA, "orlov")] == [colleagues]
    assert {c.id for c in await service.search(ANNA, "orlov")} == {own, stranger, colleagues}
    # Anyone's contact by its exact phone or e-mail; never by a part of them.
    assert [c.id for c in await service.search(IVAN, "+7 916 000-22-22")] == [stranger]
    mail = portal_emulator.add_contact(
        {"NAME": "Mail", "EMAIL": [{"VALUE": "Mail.Only@Example.test", "VALUE_TYPE": "WORK"}]},
        1,
        fire=False,
    )
    assert [c.id for c in await service.search(IVAN, "mail.only@example.test")] == [mail]
    assert await service.search(IVAN, "mail.only@example") == []


async def test_a_rep_without_leads_finds_nobody_by_name(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService
) -> None:
    contact(portal_emulator, "Anton", "Orlov", "+79160001111")
    before = portal_emulator.count_calls()
    assert await service.search(OLGA, "Orlov") == []
    assert portal_emulator.count_calls() - before == 1


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+79161234567", "+7 916 ***-**-67"),
        ("8 (916) 123-45-67", "+7 916 ***-**-67"),
        ("+4930123456", "+49 30 ****56"),
        ("12", "***12"),
    ],
)
def test_phones_in_lists_are_masked(stored: str, shown: str) -> None:
    assert mask_phone(stored, "RU") == shown


async def test_two_creates_at_once_make_one_contact(
    portal_emulator: Bitrix24Emulator, service: LeadContactsService, db: Database
) -> None:
    lead_id = ivans_lead(portal_emulator)
    results = await asyncio.gather(
        service.create_from_lead(IVAN, lead_id),
        service.create_from_lead(IVAN, lead_id),
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, WriteInProgressError) for r in results) == 1
    # A later repeat (a tap that waited) binds the same contact instead of adding one.
    again = await service.create_from_lead(IVAN, lead_id)
    assert again in results
    assert len(portal_emulator.contacts) == 1
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [again]
    assert [row[3] for row in await actions(db)] == ["contact_created", "contact_linked"]


class _AnswerLost(PortalClient):
    """A client whose next batch reaches the portal but whose answer never comes back."""

    lose_next = False

    async def batch(self, *args: Any, **kwargs: Any) -> BatchResult:
        result = await super().batch(*args, **kwargs)
        if self.lose_next:
            self.lose_next = False
            raise OutcomeUnknownError("the answer was lost")
        return result


async def test_after_an_unknown_outcome_the_contact_is_looked_up_not_added_again(
    portal_emulator: Bitrix24Emulator, db: Database
) -> None:
    client = _AnswerLost(
        auth=WebhookAuth(portal_emulator.webhook_url),
        limiter=PortalLimiter(drain_per_second=1000.0, burst=1000, start_full=False),
        backoff_base=0.001,
    )
    try:
        service = LeadContactsService(client, BotActionLog(db), default_region="RU")
        lead_id = ivans_lead(portal_emulator)
        client.lose_next = True
        with pytest.raises(OutcomeUnknownError):
            await service.create_from_lead(IVAN, lead_id)
        (made,) = portal_emulator.contacts
        assert portal_emulator.contacts[made]["ORIGIN_ID"]
        assert await service.create_from_lead(IVAN, lead_id) == made
    finally:
        await client.aclose()
    assert len(portal_emulator.contacts) == 1
    assert [b["CONTACT_ID"] for b in portal_emulator.lead_contacts[lead_id]] == [made]
