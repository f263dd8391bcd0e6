"""Lead snapshots and what changed between two of them (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.portal import Lead
from bot.portal.coerce import int_or_none
from bot.storage.subscriptions import EventKind

SNAPSHOT_FIELDS = (
    "ID",
    "TITLE",
    "STATUS_ID",
    "ASSIGNED_BY_ID",
    "SOURCE_ID",
    "OPPORTUNITY",
    "CURRENCY_ID",
    "NAME",
    "LAST_NAME",
    "COMPANY_TITLE",
    "MODIFY_BY_ID",
    "DATE_MODIFY",
    "DATE_CREATE",
)
"""Fields kept per lead: enough to say what changed, to check visibility after deletion, and
to tell a new lead from one that existed before the bot started watching."""


class ChangedField:
    """Names of the fields a change line can be about."""

    TITLE = "title"
    STAGE = "stage"
    RESPONSIBLE = "responsible"
    SOURCE = "source"
    AMOUNT = "amount"
    CONTACT = "contact"
    COMPANY = "company"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's old and new value, raw (ids, codes); rendering turns them into names."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class LeadChange:
    """What happened to one lead, and the lead as it now stands (as it was, when deleted)."""

    lead_id: int
    kind: EventKind
    lead: dict[str, Any]
    changes: tuple[FieldChange, ...] = field(default_factory=tuple)

    @property
    def stage_changed(self) -> bool:
        """Whether the stage is among the changes."""
        return any(c.field == ChangedField.STAGE for c in self.changes)

    @property
    def assigned_by_id(self) -> int | None:
        """The responsible user of the lead."""
        return int_or_none(self.lead.get("ASSIGNED_BY_ID"))

    @property
    def kinds(self) -> frozenset[EventKind]:
        """Every subscription kind this change answers to."""
        if self.kind is EventKind.CHANGED and self.stage_changed:
            return frozenset({EventKind.CHANGED, EventKind.STAGE})
        return frozenset({self.kind})


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# Portal field name -> model attribute: reading 14 attributes costs half of dumping the model.
_ATTRIBUTES = {field.alias or name: name for name, field in Lead.model_fields.items()}


def snapshot_of(lead: Lead) -> dict[str, Any]:
    """The tracked fields of a lead, JSON-able."""
    return {
        name: _plain(getattr(lead, _ATTRIBUTES[name])) if name in _ATTRIBUTES else None
        for name in SNAPSHOT_FIELDS
    }


def _amount(snapshot: dict[str, Any]) -> tuple[str, str] | None:
    value = snapshot.get("OPPORTUNITY")
    if value in (None, ""):
        return None
    return (format(Decimal(str(value)).normalize(), "f"), str(snapshot.get("CURRENCY_ID") or ""))


def _contact(snapshot: dict[str, Any]) -> str:
    parts = (snapshot.get("NAME"), snapshot.get("LAST_NAME"))
    return " ".join(str(p) for p in parts if p)


def _compare(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    pairs: list[tuple[str, Any, Any]] = [
        (ChangedField.STAGE, old.get("STATUS_ID"), new.get("STATUS_ID")),
        (
            ChangedField.RESPONSIBLE,
            int_or_none(old.get("ASSIGNED_BY_ID")),
            int_or_none(new.get("ASSIGNED_BY_ID")),
        ),
        (ChangedField.TITLE, old.get("TITLE") or "", new.get("TITLE") or ""),
        (ChangedField.SOURCE, old.get("SOURCE_ID") or "", new.get("SOURCE_ID") or ""),
        (ChangedField.AMOUNT, _amount(old), _amount(new)),
        (ChangedField.CONTACT, _contact(old), _contact(new)),
        (ChangedField.COMPANY, old.get("COMPANY_TITLE") or "", new.get("COMPANY_TITLE") or ""),
    ]
    return tuple(FieldChange(name, a, b) for name, a, b in pairs if a != b)


def diff_lead(
    lead_id: int,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    *,
    is_new: bool = False,
    deleted: Mapping[str, Any] | None = None,
) -> LeadChange | None:
    """What happened between the stored snapshot and the portal's lead; None when nothing did.

    A snapshot and no lead: deleted, told from the snapshot. No snapshot and no lead: deleted
    only when a delete event came (`deleted`: what it carried), told from the lead id.
    No snapshot and a lead: added when `is_new` (an add event, or created after the bot
    started watching), otherwise a change without a before, which says what the lead is now.
    Both: the changed fields, or None when none of the tracked fields differ.
    """
    if new is None:
        if old is not None:
            return LeadChange(lead_id, EventKind.DELETED, old)
        if deleted is None:
            return None
        return LeadChange(lead_id, EventKind.DELETED, {**deleted, "ID": str(lead_id)})
    if old is None:
        return LeadChange(lead_id, EventKind.ADDED if is_new else EventKind.CHANGED, new)
    changes = _compare(old, new)
    if not changes:
        return None
    return LeadChange(lead_id, EventKind.CHANGED, new, changes)


def created_since(snapshot: Mapping[str, Any], moment: datetime) -> bool:
    """Whether the lead was created at or after `moment` (DATE_CREATE has whole seconds)."""
    raw = snapshot.get("DATE_CREATE")
    if not isinstance(raw, str) or not raw:
        return False
    try:
        created = datetime.fromisoformat(raw)
    except ValueError:
        return False
    if created.tzinfo is None:
        return False
    return created >= moment.replace(microsecond=0)
