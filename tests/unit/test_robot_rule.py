"""The Send to Telegram rule's pure parts: reading a call, checking it, rendering the message."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.events.form import parse_php_form
from bot.events.receiver import EventRefused
from bot.i18n import Translations
from bot.install.installation import Installation
from bot.install.robot import (
    ROBOT_CODE,
    call_key,
    check_robot_auth,
    lead_of,
    read_robot_call,
    robot_fields,
)
from bot.install.robot_calls import (
    MAX_BODY_CHARS,
    CallState,
    RobotCall,
    cut_text,
    render_robot_message,
)

INSTALLED = Installation(
    member_id="memb0001",
    domain="portal.example",
    application_token="app-token",
    installed=True,
    changed_at="2026-12-04T09:00:00+00:00",
)
TOKEN = "55c1dc1c3f0d75.78875596|A40364_79843_85254_57332|MS1ekdfu6WrYMrPdgxUYA6Omgbj4AKQ6"
BODY = (
    "workflow_id=55c1dc1c3f0d75.78875596&code=telegram_send"
    "&document_id%5B0%5D=crm&document_id%5B1%5D=CCrmDocumentLead&document_id%5B2%5D=LEAD_123"
    "&document_type%5B0%5D=crm&document_type%5B1%5D=CCrmDocumentLead&document_type%5B2%5D=LEAD"
    f"&event_token={TOKEN.replace('|', '%7C')}"
    "&properties%5Brecipient%5D=group&properties%5Bgroup%5D=+Sales+"
    "&properties%5Bmessage%5D=Call+%3Cb%3EACME%3C%2Fb%3E&use_subscription=Y&ts=1733300000"
    "&auth%5Bmember_id%5D=memb0001&auth%5Bapplication_token%5D=app-token"
    "&auth%5Baccess_token%5D=a1&auth%5Bdomain%5D=portal.example"
)


def test_a_call_as_the_portal_posts_it_reads_into_a_stored_call() -> None:
    form = parse_php_form(BODY)
    check_robot_auth(form, INSTALLED)
    call = read_robot_call(form)
    assert (call.lead_id, call.recipient, call.group) == (123, "group", "Sales")
    assert call.template == "Call <b>ACME</b>"
    assert call.event_token == TOKEN
    assert call.key == call_key(TOKEN) != TOKEN
    assert call.waits
    assert TOKEN not in repr(call)
    stored = asdict(call)
    assert RobotCall.from_json({**stored, "state": "queued"}) == replace(
        call, state=CallState.QUEUED
    )
    assert RobotCall.from_json({**stored, "state": "lost"}) is None
    assert RobotCall.from_json({"key": "k"}) is None


def test_token_and_member_are_checked_against_the_installation() -> None:
    form = parse_php_form(BODY)
    wrong_token = {**form, "auth": {**form["auth"], "application_token": "app-tokeN"}}
    wrong_member = {**form, "auth": {**form["auth"], "member_id": "memb0002"}}
    cases = [
        (wrong_token, INSTALLED, 401),
        (wrong_member, INSTALLED, 403),
        ({**form, "auth": "x"}, INSTALLED, 401),
        (form, None, 401),
        (form, Installation("memb0001", "p", "app-token", False, ""), 401),
    ]
    for body, installation, status in cases:
        with pytest.raises(EventRefused) as refused:
            check_robot_auth(body, installation)
        assert refused.value.status == status


@pytest.mark.parametrize(
    ("document_id", "lead_id"),
    [
        (["crm", "CCrmDocumentLead", "LEAD_123"], 123),
        ({"0": "crm", "1": "CCrmDocumentLead", "2": "LEAD_7"}, 7),
        (["crm", "CCrmDocumentDeal", "DEAL_5"], None),
        (["crm", "CCrmDocumentLead", "LEAD_0"], None),
        (["crm", "CCrmDocumentLead", "LEAD_12x"], None),
        ("LEAD_5", None),
        (["crm", "CCrmDocumentLead"], None),
    ],
)
def test_the_lead_comes_from_document_id(document_id: object, lead_id: int | None) -> None:
    assert lead_of(document_id) == lead_id


def test_calls_that_are_not_ours_are_refused() -> None:
    form = parse_php_form(BODY)
    for broken in (
        {**form, "code": "other"},
        {**form, "document_id": ["crm", "CCrmDocumentDeal", "DEAL_1"]},
        {**form, "event_token": ""},
        {**form, "event_token": "x" * 2000},
    ):
        with pytest.raises(EventRefused) as refused:
            read_robot_call(broken)
        assert refused.value.status == 400


def test_message_escapes_the_template_and_cuts_it_with_a_note() -> None:
    tr = Translations.load().for_language("en")
    text = render_robot_message(tr, 5, "<Pipes> & co", "Call <b>now</b>")
    assert text == "🤖 <b>Lead #5: &lt;Pipes&gt; &amp; co</b>\n\nCall &lt;b&gt;now&lt;/b&gt;"
    long = render_robot_message(tr, 5, "T", "x" * 5000)
    assert long.endswith("x…\n<i>(cut: 1500 more characters)</i>")
    assert long.count("x") == MAX_BODY_CHARS


@given(st.text(max_size=6000), st.integers(min_value=0, max_value=4000))
def test_cutting_keeps_a_prefix_and_counts_what_it_dropped(text: str, limit: int) -> None:
    kept, dropped = cut_text(text, limit)
    assert text.startswith(kept)
    assert len(kept) + dropped == len(text)
    assert len(kept) <= limit


def test_the_rule_is_registered_for_leads_with_both_languages() -> None:
    fields = robot_fields("https://bot.example.com/b24/robot").to_portal()
    assert fields["NAME"] == {"en": "Send to Telegram", "ru": "Отправить в Telegram"}
    assert fields["USE_SUBSCRIPTION"] == "Y"
    assert fields["PROPERTIES"]["recipient"]["Options"] == {
        "responsible": "The responsible / Ответственный",
        "group": "A team group / Группа команды",
    }
    assert fields["RETURN_PROPERTIES"]["delivered"]["Type"] == "bool"
    assert fields["DOCUMENT_TYPE"] == ["crm", "CCrmDocumentLead", "LEAD"]
    assert ROBOT_CODE == "telegram_send"
