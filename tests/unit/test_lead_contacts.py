"""Pure parts of lead contacts: primary promotion, phone spellings, name filters, drafts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.leads.contacts import (
    NothingToCopyError,
    contact_draft_from_lead,
    linked_contacts,
    looks_like_phone,
    name_filters,
    phone_prefixes,
    primary_moved_to,
)
from bot.portal import Contact, Lead, LeadContactBinding


def binding(contact_id: int, sort: int, primary: bool) -> LeadContactBinding:
    return LeadContactBinding.model_validate(
        {
            "CONTACT_ID": contact_id,
            "SORT": sort,
            "ROLE_ID": 0,
            "IS_PRIMARY": "Y" if primary else "N",
        }
    )


def test_making_primary_keeps_order_and_sort_and_leaves_one_primary() -> None:
    current = [binding(10, 10, True), binding(11, 20, False), binding(12, 30, False)]
    moved = primary_moved_to(current, 12)
    assert moved is not None
    assert [b.to_portal() for b in moved] == [
        {"CONTACT_ID": 10, "SORT": 10, "IS_PRIMARY": "N"},
        {"CONTACT_ID": 11, "SORT": 20, "IS_PRIMARY": "N"},
        {"CONTACT_ID": 12, "SORT": 30, "IS_PRIMARY": "Y"},
    ]
    assert primary_moved_to(current, 99) is None


@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=30, unique=True))
def test_exactly_the_chosen_contact_is_primary(ids: list[int]) -> None:
    current = [binding(cid, 10 * (i + 1), i == 0) for i, cid in enumerate(ids)]
    chosen = ids[-1]
    moved = primary_moved_to(current, chosen)
    assert moved is not None
    assert [b.contact_id for b in moved] == ids
    assert [b.contact_id for b in moved if b.is_primary] == [chosen]


def test_linked_contacts_follow_binding_order_and_survive_a_missing_contact() -> None:
    contacts = [
        Contact.model_validate(
            {"ID": "11", "NAME": "Olga", "LAST_NAME": "Ivanova", "PHONE": [{"VALUE": "+7916"}]}
        ),
        Contact.model_validate({"ID": "10", "NAME": "Petr", "EMAIL": [{"VALUE": "p@x.test"}]}),
    ]
    listed = linked_contacts(
        [binding(10, 10, True), binding(11, 20, False), binding(12, 30, False)], contacts
    )
    assert [(c.contact_id, c.name, c.phone, c.email, c.is_primary) for c in listed] == [
        (10, "Petr", "", "p@x.test", True),
        (11, "Olga Ivanova", "+7916", "", False),
        (12, "", "", "", False),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+7 916 123-45-67", True),
        ("8(916)1234567", True),
        ("12345", True),
        ("1234", False),
        ("Ivan", False),
        ("Ivan 916", False),
        ("+7 916 ext 5", False),
    ],
)
def test_phone_like_text(text: str, expected: bool) -> None:
    assert looks_like_phone(text) is expected


def test_phone_prefixes_cover_the_spellings_people_store() -> None:
    assert phone_prefixes("+79161234567") == ["+79161234567", "79161234567", "89161234567"]
    assert phone_prefixes("+4930123456") == ["+4930123456", "4930123456", "030123456"]


def test_name_filters_search_first_and_last_names() -> None:
    assert name_filters("Ivan") == [{"%NAME": "Ivan"}, {"%LAST_NAME": "Ivan"}]
    assert name_filters("  Ivan   Petrov ") == [
        {"%NAME": "Ivan", "%LAST_NAME": "Petrov"},
        {"%NAME": "Petrov", "%LAST_NAME": "Ivan"},
    ]
    assert name_filters("   ") == []


def test_draft_copies_name_phones_and_emails_and_the_responsible() -> None:
    lead = Lead.model_validate(
        {
            "ID": "7",
            "TITLE": "Windows",
            "NAME": "Ivan",
            "LAST_NAME": "Petrov",
            "SECOND_NAME": "Ilyich",
            "ASSIGNED_BY_ID": "2",
            "PHONE": [
                {"ID": "1", "VALUE": "+79161234567", "VALUE_TYPE": "MOBILE", "TYPE_ID": "PHONE"},
                {"ID": "2", "VALUE": " ", "VALUE_TYPE": "WORK", "TYPE_ID": "PHONE"},
            ],
            "EMAIL": [{"ID": "3", "VALUE": "ivan@example.test", "VALUE_TYPE": "WORK"}],
        }
    )
    assert contact_draft_from_lead(lead).to_portal() == {
        "NAME": "Ivan",
        "LAST_NAME": "Petrov",
        "ASSIGNED_BY_ID": 2,
        "PHONE": [{"VALUE": "+79161234567", "VALUE_TYPE": "MOBILE"}],
        "EMAIL": [{"VALUE": "ivan@example.test", "VALUE_TYPE": "WORK"}],
    }


def test_nameless_lead_gives_its_title_and_an_empty_lead_gives_nothing() -> None:
    phone_only = Lead.model_validate(
        {"ID": "8", "TITLE": "Call back", "PHONE": [{"VALUE": "+79160000000"}]}
    )
    assert contact_draft_from_lead(phone_only).to_portal()["NAME"] == "Call back"
    with pytest.raises(NothingToCopyError):
        contact_draft_from_lead(Lead.model_validate({"ID": "9", "TITLE": "Empty"}))
