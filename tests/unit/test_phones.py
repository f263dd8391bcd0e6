"""Phone numbers typed by people and sent by Telegram reach one normal form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.phones import normalize_contact_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("+49 170 1234567", "+491701234567"),
    ],
)
def test_typed_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw, "RU") == expected


@pytest.mark.parametrize("raw", ["", "abc", "12", "+7 916", "1" * 80])
def test_malformed_numbers_are_refused(raw: str) -> None:
    assert normalize_phone(raw, "RU") is None


def test_telegram_contact_phone_without_plus() -> None:
    assert normalize_contact_phone("79161234567", "DE") == "+79161234567"
    assert normalize_contact_phone("+79161234567", "DE") == "+79161234567"


@given(st.text(max_size=100))
def test_any_text_never_crashes(raw: str) -> None:
    result = normalize_phone(raw, "RU")
    assert result is None or result.startswith("+")
