"""Pure parts of the lead tab: its signed tokens, the placement form, the page, the groups."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.access.roles import Identity, Role
from bot.i18n import Translations
from bot.install.installation import Installation
from bot.portal import Lead
from bot.storage.subscriptions import Scope, Subscription
from bot.tab.csrf import TabClaims, read_claims, sign_claims
from bot.tab.page import (
    DeliveryLine,
    FollowUpLine,
    Notice,
    ResponsibleStatus,
    TabView,
    render_refusal,
    render_tab,
)
from bot.tab.service import (
    TabRefusal,
    check_portal,
    group_takes_lead,
    read_placement_form,
    strongest,
)

SECRET = bytes(range(32))
CLAIMS = TabClaims("memb0001", 2, 15, "ru", 1_000_900, "nonce-1")
TRANSLATIONS = Translations.load(strict=True)


def test_a_token_reads_back_until_it_expires() -> None:
    token = sign_claims(SECRET, CLAIMS)
    assert read_claims(SECRET, token, 1_000_000) == CLAIMS
    assert read_claims(SECRET, token, 1_000_900) is None
    assert read_claims(bytes(32), token, 1_000_000) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.replace("t1.", "t2.", 1),
        lambda t: t + ".x",
        lambda t: t.split(".")[0] + ".e30." + t.split(".")[2],
        lambda t: "t1." + "A" * 2000 + ".AA",
        lambda t: "",
        lambda t: "t1.!!!.???",
    ],
)
def test_a_changed_token_is_refused(mangle: object) -> None:
    token = sign_claims(SECRET, CLAIMS)
    assert callable(mangle)
    assert read_claims(SECRET, mangle(token), 1_000_000) is None


def test_a_token_signed_over_other_claims_does_not_fit_these() -> None:
    other = sign_claims(SECRET, TabClaims("memb0001", 1, 15, "ru", 1_000_900, "n"))
    body_of_other = other.split(".")[1]
    mine = sign_claims(SECRET, CLAIMS)
    spliced = f"t1.{body_of_other}.{mine.split('.')[2]}"
    assert read_claims(SECRET, spliced, 1_000_000) is None


def test_each_page_sends_its_action_once() -> None:
    assert CLAIMS.action_key("ping") != TabClaims(
        "memb0001", 2, 15, "ru", 1_000_900, "nonce-2"
    ).action_key("ping")
    assert CLAIMS.action_key("ping") != CLAIMS.action_key("share")


def _form(**changes: str) -> dict[str, str]:
    form = {
        "AUTH_ID": "abc",
        "member_id": "memb0001",
        "PLACEMENT": "CRM_LEAD_DETAIL_TAB",
        "PLACEMENT_OPTIONS": json.dumps({"ID": "15", "URI": "/crm/lead/details/15/"}),
    }
    form.update(changes)
    return form


def test_the_placement_form_gives_the_lead_and_the_language() -> None:
    form = read_placement_form(_form(), {"LANG": "ru"})
    assert (form.lead_id, form.language, form.member_id) == (15, "ru", "memb0001")
    assert "abc" not in repr(form)
    assert read_placement_form(_form(LANG="de"), {}).language == "en"
    as_number = _form(PLACEMENT_OPTIONS=json.dumps({"ID": 15}))
    assert read_placement_form(as_number, {}).lead_id == 15


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"AUTH_ID": ""}, 401),
        ({"PLACEMENT_OPTIONS": "not json"}, 400),
        ({"PLACEMENT_OPTIONS": "[1]"}, 400),
        ({"PLACEMENT_OPTIONS": json.dumps({"ID": True})}, 400),
        ({"PLACEMENT_OPTIONS": json.dumps({"ID": "-1"})}, 400),
        ({"PLACEMENT_OPTIONS": json.dumps({"ID": "0"})}, 400),
        ({"PLACEMENT_OPTIONS": json.dumps({"ID": "99999999999"})}, 400),
        ({"PLACEMENT": "CRM_DEAL_DETAIL_TAB"}, 400),
    ],
)
def test_a_bad_placement_form_is_refused(changes: dict[str, str], status: int) -> None:
    with pytest.raises(TabRefusal) as refused:
        read_placement_form(_form(**changes), {})
    assert refused.value.status == status


def test_only_the_installed_portal_may_open_the_tab() -> None:
    installed = Installation("memb0001", "x.bitrix24.test", "apptoken", True, "")
    check_portal(read_placement_form(_form(APPLICATION_TOKEN="apptoken"), {}), installed)
    for form, installation in (
        (_form(member_id="other"), installed),
        (_form(APPLICATION_TOKEN="guess"), installed),
        (_form(), None),
        (_form(), Installation("memb0001", "x", "apptoken", False, "")),
    ):
        with pytest.raises(TabRefusal) as refused:
            check_portal(read_placement_form(form, {}), installation)
        assert refused.value.status == 403


def test_a_person_with_two_accounts_acts_with_the_wider_role() -> None:
    rep = Identity(1, 5, Role.REP)
    manager = Identity(2, 5, Role.MANAGER)
    assert strongest([rep, manager]) == manager
    assert strongest([]) is None


def _group(**changes: object) -> Subscription:
    values: dict[str, object] = {
        "id": 1,
        "chat_id": -100,
        "thread_id": None,
        "created_by": 1001,
        "scope": Scope.ALL,
    }
    values.update(changes)
    return Subscription(**values)  # type: ignore[arg-type]


def test_the_team_group_is_the_one_whose_filters_take_the_lead() -> None:
    manager = Identity(1001, 1, Role.MANAGER)
    lead = Lead.model_validate({"ID": "15", "ASSIGNED_BY_ID": "2", "STATUS_ID": "NEW"})
    assert group_takes_lead(_group(), manager, lead)
    assert not group_takes_lead(_group(chat_id=1001), manager, lead)  # a private chat
    assert not group_takes_lead(_group(paused=True), manager, lead)
    assert not group_takes_lead(_group(scope=Scope.MINE), manager, lead)
    assert group_takes_lead(
        _group(scope=Scope.USERS, responsible_ids=frozenset({2})), manager, lead
    )
    assert not group_takes_lead(_group(stages=frozenset({"WON"})), manager, lead)
    assert not group_takes_lead(_group(sources=frozenset({"WEB"})), manager, lead)
    # A subscriber who lost the right to keep group subscriptions sends nothing there.
    assert not group_takes_lead(_group(), Identity(1001, 1, Role.REP), lead)


def _view(**changes: object) -> TabView:
    values: dict[str, object] = {
        "lead_id": 15,
        "lead_title": "<script>alert(1)</script>",
        "viewer_name": 'Anna "A" <Admin>',
        "viewer_role": "admin",
        "responsible": ResponsibleStatus("Ivan <P>", signed_in=True, notifications_on=True),
        "deliveries": [
            DeliveryLine("Sales <Team> & 'Co'", datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "added")
        ],
        "followups": [
            FollowUpLine(datetime(2026, 1, 3, 9, 0, tzinfo=UTC), "scheduled", "<i>x</i>", "Ivan")
        ],
        "groups": ["Sales <Team>"],
        "token": 't1."><b>',
        "ping_url": "/tab/ping",
        "group_url": "/tab/group",
        "language": "en",
        "notice": Notice("Sent to <Ivan>.", ok=True),
        "note": "</textarea><script>",
    }
    values.update(changes)
    return TabView(**values)  # type: ignore[arg-type]


def test_the_page_escapes_every_value() -> None:
    page = render_tab(TRANSLATIONS.for_language("en"), _view())
    for raw in ("<script", "<Admin>", "<Team>", "<i>x</i>", '"><b>', "<Ivan>", "<P>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sales &lt;Team&gt; &amp; &#x27;Co&#x27;" in page
    assert 'value="t1.&quot;&gt;&lt;b&gt;"' in page
    assert "02.01.2026 03:04" in page


def test_the_buttons_are_off_when_nobody_can_be_reached() -> None:
    tr = TRANSLATIONS.for_language("ru")
    page = render_tab(
        tr, _view(responsible=ResponsibleStatus("Ivan", signed_in=False), groups=[], notice=None)
    )
    assert 'id="ping-button" disabled' in page
    assert 'id="group-button" disabled' in page
    assert "Не вошёл в бот" in page
    assert "ни в одну группу" in page


def test_the_refusal_page_says_what_to_do_in_both_languages() -> None:
    for language in ("en", "ru"):
        tr = TRANSLATIONS.for_language(language)
        page = render_refusal(tr, language, "tab-refused-unbound")
        assert tr.get("tab-refused-unbound") in page
        assert f'lang="{language}"' in page
