"""The lead service's pure rules: who may take a lead, and what a search asks the portal."""

from __future__ import annotations

from bot.access.roles import Identity, Role
from bot.leads.query import parse_query
from bot.leads.service import LeadService

REP = Identity(telegram_user_id=10, portal_user_id=2, role=Role.REP)
MANAGER = Identity(telegram_user_id=11, portal_user_id=3, role=Role.MANAGER)


def test_take_is_for_managers_and_for_reps_only_on_unassigned_leads() -> None:
    assert LeadService.may_take(MANAGER, 2)
    assert LeadService.may_take(MANAGER, None)
    assert not LeadService.may_take(MANAGER, 3)  # already theirs
    assert LeadService.may_take(REP, None)
    assert LeadService.may_take(REP, 0)
    assert not LeadService.may_take(REP, 3)
    assert not LeadService.may_take(REP, 2)


def _filters(identity: Identity, text: str) -> dict[str, dict[str, object]]:
    query = parse_query(text, "RU")
    assert query is not None
    commands = LeadService.search_commands(identity, query)
    return {
        key: dict(command.params["filter"])
        for key, command in commands.items()
        if command.method == "crm.lead.list"
    }


def test_every_filter_of_a_rep_is_limited_to_their_own_leads() -> None:
    for text in ("8916123", "+7 916 123-45-67", "ivan@x", "Romashka ltd", "#5"):
        filters = _filters(REP, text)
        assert filters
        assert all(f["ASSIGNED_BY_ID"] == 2 for f in filters.values()), text
        assert all("ASSIGNED_BY_ID" not in f for f in _filters(MANAGER, text).values())


def test_text_search_uses_substring_filters_on_names_title_and_company() -> None:
    filters = _filters(MANAGER, "ooo romashka")
    assert sorted(next(iter(f)) for f in filters.values()) == [
        "%COMPANY_TITLE",
        "%LAST_NAME",
        "%NAME",
        "%TITLE",
    ]
    assert {next(iter(f.values())) for f in filters.values()} == {"romashka"}


def test_whole_phone_also_asks_the_duplicate_index() -> None:
    query = parse_query("+7 916 123-45-67", "RU")
    assert query is not None
    commands = LeadService.search_commands(REP, query)
    assert commands["dup"].method == "crm.duplicate.findbycomm"
    assert "$result[dup][LEAD]" in commands["dupleads"].to_query()
    assert commands["phone0"].params["filter"]["PHONE"] == "+79161234567"
