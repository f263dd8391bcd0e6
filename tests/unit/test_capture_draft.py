"""What a capture keeps between updates: the draft, the matches, a failed attempt, as stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.access.directory import DirectoryUser
from bot.access.roles import Identity, Role
from bot.access.service import AccessDenied
from bot.leads.capture import CaptureService, contact_prefill
from bot.leads.capture_draft import (
    CaptureDraft,
    ContactMatch,
    Duplicates,
    FailureKind,
    FailureReport,
    LeadMatch,
    Sentence,
)
from bot.leads.form import FieldKind, FormField, FormValue
from bot.leads.visibility import LeadHiddenError

FORM = [
    FormField("TITLE", "Lead Title", FieldKind.STRING, required=True),
    FormField("NAME", "First Name", FieldKind.STRING, required=False),
    FormField("PHONE", "Phone", FieldKind.PHONE, required=True),
    FormField("COMMENTS", "Comments", FieldKind.TEXT, required=False),
]

REP = Identity(telegram_user_id=100, portal_user_id=7, role=Role.REP)
MANAGER = Identity(telegram_user_id=200, portal_user_id=1, role=Role.MANAGER)


def _stored(data: object) -> dict[str, object]:
    """What dialog_data holds after a round trip through the FSM storage (JSON)."""
    loaded = json.loads(json.dumps(data))
    assert isinstance(loaded, dict)
    return loaded


def _draft(**values: FormValue) -> CaptureDraft:
    return CaptureDraft(
        codes=[f.code for f in FORM],
        values=dict(values),
        origin_id="a" * 32,
        assigned_by_id=REP.portal_user_id,
    )


# --- the draft ---------------------------------------------------------------------------------


def test_a_half_filled_draft_survives_the_dialog_storage() -> None:
    draft = _draft(TITLE="Windows", PHONE="+79161234567", OPENED=True)
    draft.attempted = True
    draft.unconfirmed_at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC).isoformat()
    assert CaptureDraft.from_data(_stored(draft.to_data())) == draft


def test_a_draft_started_before_the_upgrade_is_read_from_the_flat_shape() -> None:
    flat = {
        "codes": ["TITLE", "PHONE"],
        "values": {"TITLE": "Windows"},
        "position": 1,
        "editing": False,
        "origin_id": "b" * 32,
        "assignee": 12,
        "attempted": True,
        "query": "",
    }
    draft = CaptureDraft.from_data(_stored(flat))
    assert draft == CaptureDraft(
        codes=["TITLE", "PHONE"],
        values={"TITLE": "Windows"},
        origin_id="b" * 32,
        assigned_by_id=12,
        attempted=True,
    )


def test_a_flat_draft_without_a_responsible_user_falls_to_the_caller() -> None:
    flat = {"codes": ["TITLE"], "values": {}, "origin_id": "c" * 32}
    assert CaptureDraft.from_data(flat, fallback_assignee=7).assigned_by_id == 7
    with pytest.raises(KeyError):
        CaptureDraft.from_data(flat)


def test_the_form_asks_the_next_unanswered_question() -> None:
    draft = _draft(TITLE="Windows", PHONE="+79161234567")
    assert draft.next_question(FORM, -1) == 1
    assert draft.next_question(FORM, 1) == 3
    assert draft.next_question(FORM, 3) is None
    assert _draft().next_question(FORM, -1) == 0


def test_create_sends_the_rep_to_the_first_required_question_left_empty() -> None:
    assert _draft(NAME="Anna").first_missing(FORM) == 0
    assert _draft(TITLE="Windows").first_missing(FORM) == 2
    assert _draft(TITLE="Windows", PHONE="+79161234567").first_missing(FORM) is None


def test_only_a_draft_with_answers_asks_before_new_details_replace_it() -> None:
    assert not _draft().has_answers
    assert _draft(NAME="Anna").has_answers


def test_phone_and_e_mail_of_the_draft_feed_the_duplicate_check() -> None:
    draft = _draft(PHONE="+79161234567", EMAIL="anna@example.com")
    assert (draft.phones, draft.emails) == (["+79161234567"], ["anna@example.com"])
    assert (_draft().phones, _draft().emails) == ([], [])


# --- the matches -------------------------------------------------------------------------------

OWN = LeadMatch(
    id=31,
    title="Windows",
    status_id="NEW",
    assigned_by_id=REP.portal_user_id,
    created=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
)
COLLEAGUES = LeadMatch(
    id=32, title="", status_id="", assigned_by_id=9, created=None, visible=False
)
MATCHES = Duplicates(leads=(OWN, COLLEAGUES), contacts=(ContactMatch(id=5, name="Anna K"),))


def test_matches_survive_the_dialog_storage() -> None:
    assert Duplicates.from_data(_stored(MATCHES.to_data())) == MATCHES
    assert Duplicates.from_data({}) == Duplicates()


def test_a_match_stored_before_visibility_was_kept_is_shown_as_hidden() -> None:
    old = {"leads": [{"id": 31, "title": "Windows", "status_id": "NEW", "assigned_by_id": 7}]}
    lead = Duplicates.from_data(old).leads[0]
    assert not lead.visible
    assert not lead.open_to(REP)


def test_rep_may_open_or_note_only_his_own_match() -> None:
    assert MATCHES.open_to(REP, 31) == OWN
    with pytest.raises(LeadHiddenError):
        MATCHES.open_to(REP, 32)


def test_a_forged_lead_id_is_not_in_the_matches() -> None:
    with pytest.raises(LeadHiddenError):
        MATCHES.open_to(MANAGER, 999)


def test_manager_may_act_on_a_colleagues_match_read_as_visible() -> None:
    colleagues = LeadMatch(id=33, title="Doors", status_id="NEW", assigned_by_id=9, created=None)
    assert Duplicates(leads=(colleagues,)).open_to(MANAGER, 33) == colleagues
    assert not colleagues.open_to(REP)


# --- a failed attempt ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "sentences"),
    [
        (
            FailureReport(FailureKind.REFUSED, "error-portal-refused", {"reason": "Bad phone"}),
            [Sentence("capture-failed-refused", {"reason": "Bad phone"})],
        ),
        (FailureReport(FailureKind.UNCONFIRMED), [Sentence("capture-failed-unconfirmed")]),
        (FailureReport(FailureKind.PENDING), [Sentence("capture-failed-pending")]),
        (FailureReport(FailureKind.PROBLEM), [Sentence("capture-failed-unreachable")]),
        (
            FailureReport(FailureKind.PROBLEM, "error-portal-scope", {"method": "crm.lead.add"}),
            [
                Sentence("error-portal-scope", {"method": "crm.lead.add"}),
                Sentence("capture-failed-problem-draft-kept"),
            ],
        ),
    ],
)
def test_rep_is_told_why_the_lead_was_not_created_and_that_the_draft_is_kept(
    report: FailureReport, sentences: list[Sentence]
) -> None:
    assert report.sentences() == sentences
    assert FailureReport.from_data(_stored(report.to_data())) == report


def test_a_failure_stored_before_the_kinds_is_still_told() -> None:
    refused = FailureReport.from_data({"refused": True, "reason": "Bad phone"})
    assert refused.sentences() == [Sentence("capture-failed-refused", {"reason": "Bad phone"})]
    down = FailureReport.from_data({"refused": False, "reason": ""})
    assert down.sentences() == [Sentence("capture-failed-unreachable")]
    assert FailureReport.from_data({}).sentences() == [Sentence("capture-failed-unreachable")]


# --- who may be made responsible ------------------------------------------------------------


def test_rep_may_not_make_a_colleague_responsible() -> None:
    assert not CaptureService.may_assign_others(REP)
    CaptureService.check_assignee(REP, REP.portal_user_id)
    with pytest.raises(AccessDenied):
        CaptureService.check_assignee(REP, 9)
    draft = _draft()
    with pytest.raises(AccessDenied):
        CaptureService.assign(REP, draft, DirectoryUser(id=9))
    assert draft.assigned_by_id == REP.portal_user_id


def test_manager_makes_an_active_colleague_responsible() -> None:
    draft = _draft()
    assert CaptureService.may_assign_others(MANAGER)
    assert CaptureService.assign(MANAGER, draft, DirectoryUser(id=9))
    assert draft.assigned_by_id == 9
    CaptureService.check_assignee(MANAGER, 9)


def test_nobody_is_assigned_when_the_picked_user_is_gone() -> None:
    draft = _draft()
    assert not CaptureService.assign(MANAGER, draft, None)
    assert draft.assigned_by_id == REP.portal_user_id


# --- a shared contact -------------------------------------------------------------------------


def test_a_shared_contact_fills_the_name_and_phone() -> None:
    assert contact_prefill("Anna", "Karenina", "79161234567", "RU") == {
        "NAME": "Anna",
        "LAST_NAME": "Karenina",
        "PHONE": "+79161234567",
    }


def test_a_contact_without_a_readable_phone_fills_only_the_name() -> None:
    assert contact_prefill("Anna", None, "not a phone", "RU") == {"NAME": "Anna"}
