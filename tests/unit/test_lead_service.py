"""The lead service's pure rules: who may take a lead, and what a search asks the portal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest

from bot.access.roles import Identity, Role
from bot.leads.catalog import CatalogSnapshot
from bot.leads.query import parse_query
from bot.leads.service import InvalidValueError, LeadService
from bot.portal import LeadChanges, Status
from bot.portal.methods import FindDuplicates, ListLeads

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
        key: dict(command.params()["filter"])
        for key, command in commands.items()
        if isinstance(command, ListLeads)
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
    assert isinstance(commands["dup"], FindDuplicates)
    assert "$result[dup][LEAD]" in commands["dupleads"].command().to_query()
    assert commands["phone0"].params()["filter"]["PHONE"] == "+79161234567"


class _Catalog:
    async def get(self) -> CatalogSnapshot:
        return CatalogSnapshot(
            sources=(Status.model_validate({"STATUS_ID": "CALL", "NAME": "Call"}),)
        )


class _Directory:
    async def active_user(self, portal_user_id: int) -> object | None:
        return object() if portal_user_id in (2, 3) else None


def _service() -> LeadService:
    return LeadService(
        portal=cast(Any, None),
        catalog=cast(Any, _Catalog()),
        directory=cast(Any, _Directory()),
        actions=cast(Any, None),
        default_region="RU",
        portal_origin=None,
    )


async def test_service_accepts_what_the_card_offers() -> None:
    service = _service()
    for changes in (
        LeadChanges(title="New title"),
        LeadChanges(comments="x" * 2000),
        LeadChanges(opportunity=Decimal("12500.50")),
        LeadChanges(source_id="CALL"),
    ):
        await service.check_changes(REP, changes)
    await service.check_changes(MANAGER, LeadChanges(assigned_by_id=2))


@pytest.mark.parametrize(
    ("identity", "changes"),
    [
        (REP, LeadChanges(assigned_by_id=3)),  # a rep cannot reassign
        (REP, LeadChanges(title="ok", assigned_by_id=2)),  # not even to himself this way
        (REP, LeadChanges(status_id="JUNK")),  # a stage goes through change_stage
        (REP, LeadChanges.model_validate({"UF_CRM_SECRET": "x"})),
        (REP, LeadChanges(contact_ids=[7])),
        (REP, LeadChanges(source_id="NOPE")),
        (REP, LeadChanges(title="x" * 256)),
        (REP, LeadChanges(title="   ")),
        (REP, LeadChanges(opportunity=Decimal(-1))),
        (REP, LeadChanges()),
        (MANAGER, LeadChanges(assigned_by_id=99)),  # no such active user
    ],
)
async def test_service_refuses_what_the_card_does_not_offer(
    identity: Identity, changes: LeadChanges
) -> None:
    with pytest.raises(InvalidValueError):
        await _service().check_changes(identity, changes)
