"""What a lead capture keeps between updates: the draft, the matches found, a failed attempt.

Each record has `to_data`/`from_data` for the dialog's storage (plain JSON data) and still
reads the shapes stored by earlier versions, so a rep mid-capture during an upgrade goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.access.roles import Identity
from bot.leads.form import FormField, FormValue, missing_required
from bot.leads.visibility import LeadHiddenError


@dataclass(slots=True)
class CaptureDraft:
    """A lead being captured: what the dialog keeps (as plain data) between updates."""

    codes: list[str]
    """The form's field codes when the draft was started (the form stays as it was)."""
    values: dict[str, FormValue]
    origin_id: str
    """One ORIGIN_ID per draft: every attempt to create it carries the same one."""
    assigned_by_id: int
    attempted: bool = False
    """An attempt failed: the next one first looks the ORIGIN_ID up."""
    unconfirmed_at: str | None = None
    """When an attempt went unanswered (ISO); the lead may still appear until the grace ends."""

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data for dialog storage."""
        return asdict(self)

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, fallback_assignee: int | None = None
    ) -> CaptureDraft:
        """The draft from dialog storage.

        Also reads the flat shape kept before the draft had a record of its own (the same keys
        at the top of dialog_data, the responsible user under `assignee`, or the caller when
        that is missing): a rep mid-capture during an upgrade keeps the draft.
        """
        assignee = data.get("assigned_by_id", data.get("assignee", fallback_assignee))
        if assignee is None:
            raise KeyError("assigned_by_id")
        unconfirmed_at = data.get("unconfirmed_at")
        return cls(
            codes=[str(code) for code in data.get("codes") or []],
            values=dict(data.get("values") or {}),
            origin_id=str(data["origin_id"]),
            assigned_by_id=int(assignee),
            attempted=bool(data.get("attempted")),
            unconfirmed_at=str(unconfirmed_at) if unconfirmed_at else None,
        )

    @property
    def has_answers(self) -> bool:
        """True once any field has a value (a new contact or forward then asks first)."""
        return bool(self.values)

    def next_question(self, form: Sequence[FormField], after: int) -> int | None:
        """The position of the next question without an answer after `after` (None: none)."""
        for index in range(after + 1, len(form)):
            if self.values.get(form[index].code) is None:
                return index
        return None

    def first_missing(self, form: Sequence[FormField]) -> int | None:
        """The position of the first required question without an answer (None: complete)."""
        missing = missing_required(form, self.values)
        return form.index(missing[0]) if missing else None

    @property
    def phones(self) -> list[str]:
        """The draft's phone, as a list for the duplicate check."""
        phone = self.values.get("PHONE")
        return [phone] if isinstance(phone, str) else []

    @property
    def emails(self) -> list[str]:
        """The draft's e-mail, as a list for the duplicate check."""
        email = self.values.get("EMAIL")
        return [email] if isinstance(email, str) else []


FLAT_DRAFT_KEYS = ("codes", "values", "origin_id", "assignee", "attempted")
"""dialog_data keys of a draft kept in the flat shape that `CaptureDraft.from_data` still reads."""


class FailureKind(StrEnum):
    """Why a lead was not created; the draft is kept in every case."""

    REFUSED = "refused"
    """The portal refused the lead as it stands (a field): change the draft."""
    UNCONFIRMED = "unconfirmed"
    """The answer was lost: the lead may exist; Try again looks it up first."""
    PENDING = "pending"
    """Tried again too soon after a lost answer: the portal may still be saving it."""
    PROBLEM = "problem"
    """Anything else (down, permission, scope...): see the portal error."""


UNREACHABLE_PROBLEM = "error-portal-unreachable"
"""The portal problem (a core.ftl key) of a portal that is down or did not answer."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence to show: a locale key and its arguments."""

    key: str
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FailureReport:
    """Why the lead was not created, kept (as plain data) until the rep acts on it.

    `problem` and `args` are the portal problem's sentence (a core.ftl key and its arguments):
    the refusal's reason for REFUSED, what is wrong and who can fix it for PROBLEM.
    """

    kind: FailureKind
    problem: str = UNREACHABLE_PROBLEM
    args: Mapping[str, str] = field(default_factory=dict)

    def sentences(self) -> list[Sentence]:
        """What the rep is told; every sentence says the draft is kept."""
        if self.kind is FailureKind.REFUSED:
            return [Sentence("capture-failed-refused", {"reason": self.args.get("reason", "")})]
        if self.kind is FailureKind.UNCONFIRMED:
            return [Sentence("capture-failed-unconfirmed")]
        if self.kind is FailureKind.PENDING:
            return [Sentence("capture-failed-pending")]
        if self.problem == UNREACHABLE_PROBLEM:
            return [Sentence("capture-failed-unreachable")]
        return [Sentence(self.problem, self.args), Sentence("capture-failed-problem-draft-kept")]

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data for dialog storage."""
        return {"kind": self.kind.value, "key": self.problem, "args": dict(self.args)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> FailureReport:
        """The report from dialog storage; also the older `{"refused", "reason"}` shape."""
        if "kind" not in data and "refused" in data:
            if data.get("refused"):
                reason = str(data.get("reason") or "")
                return cls(FailureKind.REFUSED, "error-portal-refused", {"reason": reason})
            return cls(FailureKind.PROBLEM)
        try:
            kind = FailureKind(str(data.get("kind")))
        except ValueError:
            kind = FailureKind.PROBLEM
        args = {str(k): str(v) for k, v in dict(data.get("args") or {}).items()}
        return cls(kind, str(data.get("key") or UNREACHABLE_PROBLEM), args)


@dataclass(frozen=True, slots=True)
class LeadMatch:
    """A lead having the same phone or e-mail as the draft.

    For a lead the caller may not see, only that it exists, its owner and its age are kept:
    `title` and `status_id` are empty and `visible` is False.
    """

    id: int
    title: str
    status_id: str
    assigned_by_id: int | None
    created: datetime | None
    visible: bool = True

    def open_to(self, identity: Identity) -> bool:
        """True when `identity` may open this lead or add a note to it."""
        return self.visible and identity.may_see_lead(self.assigned_by_id)

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data for dialog storage."""
        return {
            "id": self.id,
            "title": self.title,
            "status_id": self.status_id,
            "assigned_by_id": self.assigned_by_id,
            "created": self.created.isoformat() if self.created else None,
            "visible": self.visible,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> LeadMatch:
        """The match from dialog storage (one stored without `visible` is shown as hidden)."""
        owner = data.get("assigned_by_id")
        created = data.get("created")
        return cls(
            id=int(data["id"]),
            title=str(data.get("title") or ""),
            status_id=str(data.get("status_id") or ""),
            assigned_by_id=int(owner) if owner else None,
            created=datetime.fromisoformat(str(created)) if created else None,
            visible=bool(data.get("visible")),
        )


@dataclass(frozen=True, slots=True)
class ContactMatch:
    """A contact having the same phone or e-mail as the draft."""

    id: int
    name: str

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data for dialog storage."""
        return {"id": self.id, "name": self.name}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ContactMatch:
        """The match from dialog storage."""
        return cls(id=int(data["id"]), name=str(data.get("name") or ""))


@dataclass(frozen=True, slots=True)
class Duplicates:
    """What the duplicate check found (at most MAX_SHOWN_MATCHES of each kind)."""

    leads: tuple[LeadMatch, ...] = ()
    contacts: tuple[ContactMatch, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing matched."""
        return not self.leads and not self.contacts

    @property
    def any_visible(self) -> bool:
        """True when the caller may open (or add a note to) at least one matching lead."""
        return any(lead.visible for lead in self.leads)

    def lead(self, lead_id: int) -> LeadMatch | None:
        """The matching lead with this id, if it is in the list."""
        return next((lead for lead in self.leads if lead.id == lead_id), None)

    def open_to(self, identity: Identity, lead_id: int) -> LeadMatch:
        """The match `identity` may act on; ids from buttons are checked against the list.

        Raises `LeadHiddenError` for a lead not in the list or not the caller's to see.
        """
        lead = self.lead(lead_id)
        if lead is None or not lead.open_to(identity):
            raise LeadHiddenError(lead_id)
        return lead

    def with_owner(self, lead_id: int) -> LeadMatch:
        """A listed lead that has a responsible (whom a rep may ask for it).

        Raises `LeadHiddenError` for a lead not in the list or with nobody responsible.
        """
        lead = self.lead(lead_id)
        if lead is None or not lead.assigned_by_id:
            raise LeadHiddenError(lead_id)
        return lead

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data for dialog storage."""
        return {
            "leads": [lead.to_data() for lead in self.leads],
            "contacts": [contact.to_data() for contact in self.contacts],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Duplicates:
        """The matches from dialog storage."""
        return cls(
            leads=tuple(LeadMatch.from_data(lead) for lead in data.get("leads") or ()),
            contacts=tuple(ContactMatch.from_data(c) for c in data.get("contacts") or ()),
        )
