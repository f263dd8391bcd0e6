"""Reading what a user typed into /find or an inline query."""

from __future__ import annotations

import pytest

from bot.leads.query import QueryKind, parse_query
from bot.leads.service import matches_query
from bot.portal import Lead


def test_hash_number_is_a_lead_id() -> None:
    query = parse_query("#123", "RU")
    assert query is not None
    assert query.kind is QueryKind.ID
    assert query.lead_id == 123
    assert parse_query("# 7", "RU") is not None


@pytest.mark.parametrize(
    ("typed", "prefixes", "core"),
    [
        ("+7 916 123", ("+7916123", "7916123"), "7916123"),
        ("8 (916) 123-4", ("+79161234", "89161234"), "9161234"),
        ("7916", ("+7916", "+77916", "7916"), "7916"),
        ("916-12", ("+791612", "91612"), "91612"),
    ],
)
def test_phone_fragments_become_e164_prefixes(
    typed: str, prefixes: tuple[str, ...], core: str
) -> None:
    query = parse_query(typed, "RU")
    assert query is not None
    assert query.kind is QueryKind.PHONE
    assert query.phone_prefixes == prefixes
    assert query.phone_digits == core
    assert query.full_phone is None


def test_whole_phone_number_is_also_looked_up_whole() -> None:
    query = parse_query("8 916 123-45-67", "RU")
    assert query is not None
    assert query.full_phone == "+79161234567"
    assert query.phone_prefixes[0] == "+79161234567"


def test_german_trunk_prefix_is_replaced_by_the_country_code() -> None:
    query = parse_query("0170 123", "DE")
    assert query is not None
    assert query.phone_prefixes[0] == "+49170123"


def test_email_and_text_and_too_short() -> None:
    email = parse_query("Ivan@Example.", "RU")
    assert email is not None
    assert email.kind is QueryKind.EMAIL
    assert email.email == "ivan@example."
    text = parse_query("  Ivan   Petrov ", "RU")
    assert text is not None
    assert text.kind is QueryKind.TEXT
    assert text.words == ("ivan", "petrov")
    assert text.portal_word == "petrov"
    assert parse_query("a", "RU") is None
    assert parse_query("12", "RU") is None
    assert parse_query("#0", "RU") is None
    assert parse_query("", "RU") is None


def test_found_leads_are_checked_against_the_whole_query() -> None:
    lead = Lead.model_validate(
        {
            "ID": "5",
            "TITLE": "Окна для ООО Ромашка",
            "NAME": "Ivan",
            "LAST_NAME": "Petrov",
            "PHONE": [{"ID": "1", "VALUE": "+79161234567", "VALUE_TYPE": "WORK"}],
            "EMAIL": [{"ID": "2", "VALUE": "Ivan@Example.com", "VALUE_TYPE": "WORK"}],
        }
    )

    def q(text: str) -> bool:
        parsed = parse_query(text, "RU")
        assert parsed is not None
        return matches_query(lead, parsed)

    assert q("8916123")
    assert q("+7 916")
    assert not q("8916999")
    assert q("ivan@ex")
    assert not q("petrov@")
    assert q("ivan petrov")
    assert q("ромашка")
    assert not q("ivan sidorov")
    assert q("#5")
    assert not q("#6")
