"""The capture form: which fields it asks, in what order, and how answers are read and sent."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.leads.form import (
    DEFAULT_OPTIONAL_FIELDS,
    SHORT_TEXT_LIMIT,
    FieldKind,
    FormField,
    InputRejected,
    build_form,
    display_value,
    draft_fields,
    field_kind,
    lead_draft,
    missing_required,
    optional_codes,
    parse_date,
    parse_email,
    parse_integer,
    parse_number,
    parse_phone,
    parse_text,
    parse_typed,
    prefill_values,
    status_types_used,
)
from bot.portal import FieldDescriptor, Status


def descriptor(type_: str, title: str = "", **extra: Any) -> FieldDescriptor:
    return FieldDescriptor.model_validate({"type": type_, "title": title, **extra})


PORTAL_FIELDS: dict[str, FieldDescriptor] = {
    "ID": descriptor("integer", "ID", isReadOnly=True),
    "TITLE": descriptor("string", "Lead Title"),
    "HONORIFIC": descriptor("crm_status", "Salutation", statusType="HONORIFIC"),
    "NAME": descriptor("string", "First Name"),
    "LAST_NAME": descriptor("string", "Last Name"),
    "BIRTHDATE": descriptor("date", "Birthdate"),
    "COMPANY_TITLE": descriptor("string", "Company Name"),
    "SOURCE_ID": descriptor("crm_status", "Source", statusType="SOURCE"),
    "STATUS_ID": descriptor("crm_status", "Stage", statusType="STATUS"),
    "OPPORTUNITY": descriptor("double", "Amount"),
    "OPENED": descriptor("char", "Available to All"),
    "COMMENTS": descriptor("string", "Comments"),
    "ASSIGNED_BY_ID": descriptor("user", "Responsible User"),
    "DATE_CREATE": descriptor("datetime", "Creation Date", isReadOnly=True),
    "CONTACT_ID": descriptor("crm_contact", "Contact", isDeprecated=True),
    "ORIGIN_ID": descriptor("string", "Identifier in External Source"),
    "PHONE": descriptor("crm_multifield", "Phone", isMultiple=True),
    "EMAIL": descriptor("crm_multifield", "E-mail", isMultiple=True),
    "WEB": descriptor("crm_multifield", "Website", isMultiple=True),
    "UF_CRM_BUDGET": descriptor(
        "integer", "UF_CRM_BUDGET", isRequired=True, isDynamic=True, formLabel="Budget"
    ),
    "UF_CRM_INTEREST": descriptor(
        "enumeration",
        "UF_CRM_INTEREST",
        isRequired=True,
        isDynamic=True,
        formLabel="Interest",
        items=[{"ID": "7", "VALUE": "Windows"}, {"ID": "8", "VALUE": "Doors"}],
    ),
    "UF_CRM_PHOTO": descriptor("file", "UF_CRM_PHOTO", isDynamic=True, formLabel="Photo"),
    "UF_CRM_VIP": descriptor("boolean", "UF_CRM_VIP", isDynamic=True, formLabel="VIP"),
}
SOURCES = (
    Status.model_validate({"STATUS_ID": "CALL", "NAME": "Call", "ENTITY_ID": "SOURCE"}),
    Status.model_validate({"STATUS_ID": "WEB", "NAME": "Website", "ENTITY_ID": "SOURCE"}),
)
STATUSES = {"SOURCE": SOURCES, "STATUS": ()}


def test_default_form_asks_the_default_fields_then_required_custom_ones() -> None:
    form = build_form(PORTAL_FIELDS, list(DEFAULT_OPTIONAL_FIELDS), STATUSES)
    assert [f.code for f in form] == [
        "TITLE",
        "NAME",
        "LAST_NAME",
        "PHONE",
        "EMAIL",
        "COMPANY_TITLE",
        "SOURCE_ID",
        "COMMENTS",
        "UF_CRM_BUDGET",
        "UF_CRM_INTEREST",
    ]
    by_code = {f.code: f for f in form}
    assert by_code["UF_CRM_BUDGET"].label == "Budget"
    assert by_code["UF_CRM_BUDGET"].required
    assert not by_code["TITLE"].required
    assert by_code["PHONE"].kind is FieldKind.PHONE
    assert not by_code["PHONE"].multiple
    assert by_code["SOURCE_ID"].choices[0].label == "Call"
    assert [c.label for c in by_code["UF_CRM_INTEREST"].choices] == ["Windows", "Doors"]
    assert by_code["COMMENTS"].kind is FieldKind.TEXT


def test_admin_order_is_kept_and_read_only_unknown_and_unaskable_fields_are_skipped() -> None:
    chosen = ["COMMENTS", "ID", "NO_SUCH_FIELD", "UF_CRM_PHOTO", "WEB", "OPPORTUNITY", "NAME"]
    chosen += ["ASSIGNED_BY_ID", "ORIGIN_ID", "CONTACT_ID", "DATE_CREATE", "UF_CRM_VIP"]
    form = build_form(PORTAL_FIELDS, chosen, STATUSES)
    assert [f.code for f in form] == [
        "COMMENTS",
        "OPPORTUNITY",
        "NAME",
        "UF_CRM_VIP",
        "UF_CRM_BUDGET",
        "UF_CRM_INTEREST",
    ]
    assert form[1].kind is FieldKind.MONEY
    assert form[3].kind is FieldKind.YES_NO
    assert form[3].flag_style == "boolean"


def test_a_list_field_without_known_options_is_not_asked() -> None:
    form = build_form(PORTAL_FIELDS, ["HONORIFIC", "STATUS_ID"], STATUSES)
    assert [f.code for f in form] == ["UF_CRM_BUDGET", "UF_CRM_INTEREST"]
    assert status_types_used(PORTAL_FIELDS, ["HONORIFIC", "SOURCE_ID"]) == {"HONORIFIC", "SOURCE"}


def test_required_standard_field_is_asked_even_when_not_chosen() -> None:
    fields = dict(PORTAL_FIELDS)
    fields["BIRTHDATE"] = descriptor("date", "Birthdate", isRequired=True)
    form = build_form(fields, ["NAME"], STATUSES)
    assert [f.code for f in form] == ["NAME", "BIRTHDATE", "UF_CRM_BUDGET", "UF_CRM_INTEREST"]
    assert form[1].kind is FieldKind.DATE


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, list(DEFAULT_OPTIONAL_FIELDS)),
        ("TITLE", list(DEFAULT_OPTIONAL_FIELDS)),
        ([1, 2], list(DEFAULT_OPTIONAL_FIELDS)),
        (["name", "TITLE", "NAME", " "], ["NAME", "TITLE"]),
        ([], []),
    ],
)
def test_the_admins_choice_is_read_or_the_default_used(stored: Any, expected: list[str]) -> None:
    assert optional_codes(stored) == expected


def test_field_kinds() -> None:
    assert field_kind("TITLE", PORTAL_FIELDS["TITLE"]) is FieldKind.STRING
    assert field_kind("OPENED", PORTAL_FIELDS["OPENED"]) is FieldKind.YES_NO
    assert field_kind("ASSIGNED_BY_ID", PORTAL_FIELDS["ASSIGNED_BY_ID"]) is None
    assert field_kind("WEB", PORTAL_FIELDS["WEB"]) is None
    assert field_kind("X", descriptor("double")) is FieldKind.NUMBER
    assert field_kind("X", descriptor("enumeration")) is None


# --- parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("+49 170 1234567", "+491701234567"),
    ],
)
def test_phones_are_normalised(raw: str, expected: str) -> None:
    assert parse_phone(raw, "RU") == expected


@pytest.mark.parametrize("raw", ["", "12", "call me", "+7 916", "8" * 70, "916-12"])
def test_malformed_phones_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InputRejected) as refused:
        parse_phone(raw, "RU")
    assert refused.value.reason == "capture-error-phone"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anna@example.com", "anna@example.com"),
        ("  Anna.Smirnova+crm@Example.COM ", "Anna.Smirnova+crm@example.com"),
        ("ivan@почта.рф", "ivan@почта.рф"),
        ("o'brien@mail.co.uk", "o'brien@mail.co.uk"),
    ],
)
def test_emails_are_accepted(raw: str, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "anna@@example.com",
        "an na@example.com",
        "anna.@example.com",
        ".anna@example.com",
        "an..na@example.com",
        "anna@-example.com",
        "anna@example..com",
        "anna@example.c",
        "<b>anna</b>@example.com",
        "a" * 65 + "@example.com",
        "anna@" + "a" * 250 + ".com",
    ],
)
def test_malformed_emails_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InputRejected) as refused:
        parse_email(raw)
    assert refused.value.reason == "capture-error-email"


@pytest.mark.parametrize(
    ("raw", "expected"), [("12", 12), (" -3 ", -3), ("150 000", 150000), ("+7", 7)]
)
def test_integers(raw: str, expected: int) -> None:
    assert parse_integer(raw) == expected


@pytest.mark.parametrize("raw", ["", "1.5", "twelve", "9" * 20, "1e3", "3000000000"])
def test_not_integers(raw: str) -> None:
    with pytest.raises(InputRejected):
        parse_integer(raw)


@pytest.mark.parametrize(
    ("raw", "money", "expected"),
    [
        ("12.5", False, "12.5"),
        ("12,5", False, "12.5"),
        ("-0.25", False, "-0.25"),
        ("15 000,50", True, "15000.5"),
        ("12,500.75", True, "12500.75"),
        ("100", True, "100"),
        ("0.005", True, "0.01"),
        ("1 000 000", True, "1000000"),
    ],
)
def test_numbers_and_money(raw: str, money: bool, expected: str) -> None:
    assert parse_number(raw, money=money) == expected


@pytest.mark.parametrize("raw", ["", "abc", "1,2,3", "NaN", "Infinity", "1e5", "12.", "-5"])
def test_not_money(raw: str) -> None:
    with pytest.raises(InputRejected) as refused:
        parse_number(raw, money=True)
    assert refused.value.reason == "capture-error-money"


def test_dates() -> None:
    assert parse_date("31.12.2025") == "2025-12-31"
    assert parse_date("2025-12-31") == "2025-12-31"
    for raw in ("31.02.2025", "tomorrow", "2025-12-31T10:00:00"):
        with pytest.raises(InputRejected):
            parse_date(raw)


def test_too_long_title_is_refused_with_the_limit_and_length() -> None:
    with pytest.raises(InputRejected) as refused:
        parse_text("x" * 5000, SHORT_TEXT_LIMIT, one_line=True)
    assert refused.value.reason == "capture-error-too-long"
    assert refused.value.args_for_message == {"limit": 255, "length": 5000}
    assert parse_text("  a\n b  ", SHORT_TEXT_LIMIT, one_line=True) == "a b"
    assert parse_text(" a\n b ", 100, one_line=False) == "a\n b"
    with pytest.raises(InputRejected):
        parse_text(" \n ", 100, one_line=False)


def test_hostile_text_round_trips_unchanged() -> None:
    title = FormField("TITLE", "Lead Title", FieldKind.STRING, required=False)
    hostile = '<script>alert("x")</script> & Ко 🚀'
    assert parse_typed(title, hostile, "RU") == hostile


def test_choices_can_be_typed_by_their_label() -> None:
    form = build_form(PORTAL_FIELDS, ["SOURCE_ID", "OPENED"], STATUSES)
    source, opened = form[0], form[1]
    assert parse_typed(source, "website", "RU") == "WEB"
    with pytest.raises(InputRejected):
        parse_typed(source, "carrier pigeon", "RU")
    with pytest.raises(InputRejected) as refused:
        parse_typed(opened, "yes", "RU")
    assert refused.value.reason == "capture-error-use-buttons"


@given(st.text(max_size=300))
def test_phone_parser_never_crashes(raw: str) -> None:
    with contextlib.suppress(InputRejected):
        assert parse_phone(raw, "RU").startswith("+")


@given(st.text(max_size=300))
def test_email_parser_never_crashes(raw: str) -> None:
    try:
        value = parse_email(raw)
    except InputRejected:
        return
    assert value.count("@") == 1
    assert len(value) <= 254


@given(st.text(max_size=100))
def test_number_parsers_never_crash(raw: str) -> None:
    for parse in (parse_integer, parse_number, lambda t: parse_number(t, money=True)):
        with contextlib.suppress(InputRejected):
            parse(raw)


@given(st.text(max_size=60))
def test_number_answers_are_valid_decimals(raw: str) -> None:
    try:
        value = parse_number(raw)
    except InputRejected:
        return
    assert Decimal(value).is_finite()


# --- answers to the portal ----------------------------------------------------------------


def test_prefill_reads_what_fits_and_drops_what_does_not() -> None:
    form = build_form(PORTAL_FIELDS, list(DEFAULT_OPTIONAL_FIELDS), STATUSES)
    values = prefill_values(
        form,
        {"NAME": "Maria", "PHONE": "not a phone", "COMMENTS": "x" * 4000, "WEB": "a.com"},
        "RU",
    )
    assert values["NAME"] == "Maria"
    assert "PHONE" not in values
    assert "WEB" not in values
    assert len(str(values["COMMENTS"])) == 3000
    assert [f.code for f in missing_required(form, values)] == ["UF_CRM_BUDGET", "UF_CRM_INTEREST"]


def test_answers_become_the_portals_fields() -> None:
    form = build_form(
        PORTAL_FIELDS,
        ["TITLE", "PHONE", "EMAIL", "OPPORTUNITY", "OPENED", "BIRTHDATE", "UF_CRM_VIP"],
        STATUSES,
    )
    values = {
        "TITLE": "Окна <b>",
        "PHONE": "+79161234567",
        "EMAIL": "anna@example.com",
        "OPPORTUNITY": "15000.5",
        "OPENED": False,
        "BIRTHDATE": "1990-05-01",
        "UF_CRM_VIP": True,
        "UF_CRM_BUDGET": 10,
        "UF_CRM_INTEREST": "8",
    }
    assert draft_fields(form, values) == {
        "TITLE": "Окна <b>",
        "PHONE": [{"VALUE": "+79161234567", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "anna@example.com", "VALUE_TYPE": "WORK"}],
        "OPPORTUNITY": "15000.5",
        "OPENED": "N",
        "BIRTHDATE": "1990-05-01",
        "UF_CRM_VIP": 1,
        "UF_CRM_BUDGET": 10,
        "UF_CRM_INTEREST": 8,
    }
    draft = lead_draft(form, values, assigned_by_id=3, origin_id="abc123")
    sent = draft.to_portal()
    assert sent["ASSIGNED_BY_ID"] == 3
    assert sent["ORIGIN_ID"] == "abc123"
    assert sent["OPPORTUNITY"] == "15000.5"
    assert sent["OPENED"] == "N"
    assert sent["PHONE"] == [{"VALUE": "+79161234567", "VALUE_TYPE": "WORK"}]
    assert sent["UF_CRM_INTEREST"] == 8
    assert sent["BIRTHDATE"] == "1990-05-01"


def test_display_values() -> None:
    form = build_form(PORTAL_FIELDS, ["SOURCE_ID", "OPENED", "BIRTHDATE"], STATUSES)
    source, opened, birthdate = form[0], form[1], form[2]
    assert display_value(source, "CALL") == "Call"
    assert display_value(opened, True) == "✓"
    assert display_value(birthdate, "1990-05-01") == "01.05.1990"
    assert display_value(source, None) == ""


@pytest.mark.parametrize("raw", ["100000000000000000000000000", "1" * 16, "-1" + "0" * 15 + ".5"])
def test_numbers_beyond_fifteen_digits_are_refused(raw: str) -> None:
    for money in (False, True):
        with pytest.raises(InputRejected):
            parse_number(raw, money=money)
    assert parse_number("9" * 15, money=True) == "9" * 15


def test_custom_text_fields_are_asked_as_one_line_unless_they_have_several_rows() -> None:
    fields = {
        "UF_CRM_NOTE": descriptor(
            "string", "UF_CRM_NOTE", isDynamic=True, formLabel="Note", settings={"ROWS": 1}
        ),
        "UF_CRM_STORY": descriptor(
            "string", "UF_CRM_STORY", isDynamic=True, formLabel="Story", settings={"ROWS": 5}
        ),
        "UF_CRM_BARE": descriptor("string", "UF_CRM_BARE", isDynamic=True, formLabel="Bare"),
        "COMMENTS": descriptor("string", "Comments"),
        "TITLE": descriptor("string", "Lead Title"),
    }
    form = build_form(fields, list(fields), {})
    by_code = {f.code: f for f in form}
    assert by_code["UF_CRM_NOTE"].hint_key == "capture-hint-line"
    assert by_code["UF_CRM_BARE"].hint_key == "capture-hint-line"
    assert by_code["UF_CRM_STORY"].hint_key == "capture-hint-text"
    assert by_code["COMMENTS"].hint_key == "capture-hint-text"
    assert by_code["TITLE"].hint_key == "capture-hint-string"
    # A one-line field reads a pasted text as one line; a several-line one keeps its lines.
    assert parse_typed(by_code["UF_CRM_NOTE"], "north\n gate", "RU") == "north gate"
    assert parse_typed(by_code["UF_CRM_STORY"], "north\ngate", "RU") == "north\ngate"
