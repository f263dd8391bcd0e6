"""Quick capture: names split, phones and e-mails lifted from a forwarded text, drafts merged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.leads.form import FieldKind, FormField
from bot.leads.quick import emails_in, forwarded_prefill, merge_prefill, phones_in, split_name


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Pyotr Sidorov", ("Pyotr", "Sidorov")),
        ("Анна К.", ("Анна", "К.")),
        ("Maria", ("Maria", "")),
        ("  Jean  Paul  Sartre ", ("Jean", "Paul Sartre")),
        ("", ("", "")),
    ],
)
def test_names_are_split_into_first_and_last(full: str, expected: tuple[str, str]) -> None:
    assert split_name(full) == expected


def test_phones_in_a_text_are_found_in_any_usual_spelling() -> None:
    text = "Call me: 8 (916) 555-12-34, or at work +7 495 123-45-67. Again: +79165551234."
    assert phones_in(text, "RU") == ["+79165551234", "+74951234567"]
    assert phones_in("order 12345, 2 windows, 150x120", "RU") == []


def test_emails_in_a_text_are_found_and_normalised() -> None:
    text = "Write to Maria.Ivanova@Example.COM (or maria@example.com), not to a@b or @x.ru."
    assert emails_in(text) == ["Maria.Ivanova@example.com", "maria@example.com"]
    assert emails_in("no address here.") == []


def test_forwarded_message_fills_the_name_phone_e_mail_and_comment() -> None:
    text = "Hi! I need 20 windows. Phone 8 916 555-12-34, mail pyotr@example.com"
    assert forwarded_prefill(first_name="Pyotr Sidorov", last_name="", text=text, region="RU") == {
        "NAME": "Pyotr",
        "LAST_NAME": "Sidorov",
        "COMMENTS": text,
        "PHONE": "+79165551234",
        "EMAIL": "pyotr@example.com",
    }
    # Telegram's own first and last names are kept as they are.
    assert forwarded_prefill(first_name="Jean Paul", last_name="Sartre", text="", region="RU") == {
        "NAME": "Jean Paul",
        "LAST_NAME": "Sartre",
    }


@given(st.text(max_size=300))
def test_parsing_any_text_never_crashes(text: str) -> None:
    prefill = forwarded_prefill(first_name=text, last_name="", text=text, region="RU")
    assert set(prefill) <= {"NAME", "LAST_NAME", "COMMENTS", "PHONE", "EMAIL"}


FORM = [
    FormField("TITLE", "Lead Title", FieldKind.STRING, required=True),
    FormField("NAME", "First Name", FieldKind.STRING, required=False),
    FormField("PHONE", "Phone", FieldKind.PHONE, required=False),
    FormField("COMMENTS", "Comments", FieldKind.TEXT, required=False),
]


def test_merging_fills_empty_fields_appends_comments_and_keeps_answers() -> None:
    values = {"TITLE": "Windows", "NAME": "Maria", "COMMENTS": "Wants 20"}
    prefill = {"NAME": "Pyotr", "PHONE": "8 916 555 12 34", "COMMENTS": "Call after 6"}
    merged, changed = merge_prefill(FORM, values, prefill, "RU")
    assert merged == {
        "TITLE": "Windows",
        "NAME": "Maria",
        "PHONE": "+79165551234",
        "COMMENTS": "Wants 20\n\nCall after 6",
    }
    assert changed == ["PHONE", "COMMENTS"]
    again, changed = merge_prefill(FORM, merged, prefill, "RU")
    assert again == merged
    assert changed == []
