"""Custom lead fields: name and value rules (pure), and the permission-checked portal service."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.leads.catalog import PortalCatalog
from bot.portal import (
    Lane,
    PortalClient,
    UserField,
    UserFieldChanges,
    UserFieldDraft,
    UserFieldEnumItem,
)

log = logging.getLogger(__name__)

FIELD_PREFIX = "UF_CRM_"
MAX_FIELD_NAME = 50  # the portal's limit on the whole name, prefix included
MAX_NAME_SUFFIX = MAX_FIELD_NAME - len(FIELD_PREFIX)
MAX_LABEL = 100
MAX_LIST_VALUE = 255
MAX_LIST_VALUES = 100
LABEL_KEYS = ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL")
_NAME_CHARS = re.compile(r"^[A-Z0-9_]+$")
_SORT_STEP = 10


class FieldType(StrEnum):
    """Field types an admin can create from the bot, as the portal's USER_TYPE_ID."""

    STRING = "string"
    NUMBER = "double"
    INTEGER = "integer"
    DATE = "date"
    YES_NO = "boolean"
    LIST = "enumeration"


class NameProblem(StrEnum):
    """Why a typed field name cannot be used."""

    EMPTY = "empty"
    BAD_CHARS = "bad_chars"
    TOO_LONG = "too_long"
    EXISTS = "exists"


class ValuesProblem(StrEnum):
    """Why typed list values cannot be used."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    DUPLICATE = "duplicate"


class LabelProblem(StrEnum):
    """Why a typed label cannot be used."""

    EMPTY = "empty"
    TOO_LONG = "too_long"


def full_field_name(typed: str) -> str:
    """The name the portal will give: upper case, prefixed `UF_CRM_` (`note` -> `UF_CRM_NOTE`)."""
    name = typed.strip().upper()
    if name.startswith(FIELD_PREFIX):
        return name
    if name.startswith("UF_"):
        return FIELD_PREFIX + name[3:]
    return FIELD_PREFIX + name


def check_field_name(typed: str, existing: Iterable[str] = ()) -> str | NameProblem:
    """The full field name for what the admin typed, or why it cannot be used."""
    name = full_field_name(typed)
    suffix = name[len(FIELD_PREFIX) :]
    if not suffix:
        return NameProblem.EMPTY
    if not _NAME_CHARS.match(suffix) or not suffix.isascii():
        return NameProblem.BAD_CHARS
    if len(name) > MAX_FIELD_NAME:
        return NameProblem.TOO_LONG
    if name in {e.upper() for e in existing}:
        return NameProblem.EXISTS
    return name


def check_label(typed: str) -> str | LabelProblem:
    """A label as it will be stored (one line, trimmed), or why it cannot be used."""
    label = " ".join(typed.split())
    if not label:
        return LabelProblem.EMPTY
    if len(label) > MAX_LABEL:
        return LabelProblem.TOO_LONG
    return label


def parse_list_values(text: str, existing: Iterable[str] = ()) -> list[str] | ValuesProblem:
    """List values typed one per line: blank lines skipped, each trimmed; duplicates (also of
    `existing` values, ignoring case) are refused rather than silently dropped."""
    values = [" ".join(line.split()) for line in text.splitlines()]
    values = [v for v in values if v]
    if not values:
        return ValuesProblem.EMPTY
    if any(len(v) > MAX_LIST_VALUE for v in values):
        return ValuesProblem.TOO_LONG
    seen = {e.casefold() for e in existing}
    if len(values) + len(seen) > MAX_LIST_VALUES:
        return ValuesProblem.TOO_MANY
    for value in values:
        if value.casefold() in seen:
            return ValuesProblem.DUPLICATE
        seen.add(value.casefold())
    return values


def label_in(label: str | Mapping[str, str] | None, language: str) -> str:
    """One language's text of a label the portal returned as a string or a language map."""
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    return label.get(language) or label.get("en") or next((v for v in label.values() if v), "")


def field_label(field: UserField, language: str) -> str:
    """The human label of a field (its code when it has none)."""
    for label in (field.edit_form_label, field.list_column_label, field.list_filter_label):
        text = label_in(label, language)
        if text:
            return text
    return field.field_name


def renamed_label(
    current: str | Mapping[str, str] | None, language: str, new: str
) -> str | dict[str, str]:
    """The label to send so that `language` reads `new`.

    The portal replaces the whole label and blanks languages not sent, so every language is
    sent: those that had the same text as `language` (or none) take the new text, those with
    a translation of their own keep it.
    """
    if not isinstance(current, Mapping):
        return new
    old = current.get(language, "")
    result = {
        lang: (new if lang == language or not text or text == old else text)
        for lang, text in current.items()
    }
    result[language] = new
    return result


def new_list_items(
    values: Iterable[str], after: Iterable[UserFieldEnumItem]
) -> list[UserFieldEnumItem]:
    """Items to add after the existing ones, sorted in the order typed."""
    last = max((item.sort or 0 for item in after), default=0)
    return [
        UserFieldEnumItem(value=value, sort=last + _SORT_STEP * (i + 1))
        for i, value in enumerate(values)
    ]


@dataclass(frozen=True, slots=True)
class FieldSummary:
    """What the field list shows of one field."""

    id: int
    code: str
    label: str
    type: str
    required: bool
    values: int


def summarize(field: UserField, language: str) -> FieldSummary:
    """A field as a list line."""
    return FieldSummary(
        id=field.id or 0,
        code=field.field_name,
        label=field_label(field, language),
        type=field.user_type_id or "",
        required=bool(field.mandatory),
        values=len(field.items or []),
    )


class CustomFieldService:
    """Lead user fields for admins: every call re-checks `MANAGE_FIELDS`, every change makes
    the catalog re-read the fields so the capture form follows at once."""

    def __init__(self, portal: PortalClient, catalog: PortalCatalog) -> None:
        self._portal = portal
        self._catalog = catalog

    @staticmethod
    def authorize(identity: Identity | None) -> None:
        """Raise `AccessDenied` unless the caller's role allows these tools."""
        if identity is None or not identity.may(Action.MANAGE_FIELDS):
            raise AccessDenied(Action.MANAGE_FIELDS.value)

    async def list_fields(self, identity: Identity | None, language: str) -> list[FieldSummary]:
        """Every lead user field, in the portal's order."""
        self.authorize(identity)
        fields = await self._portal.list_lead_userfields(lane=Lane.INTERACTIVE)
        return [summarize(f, language) for f in fields if f.id is not None]

    async def get_field(self, identity: Identity | None, field_id: int) -> UserField:
        """One field with every language of its labels and its list items."""
        self.authorize(identity)
        return await self._portal.get_lead_userfield(field_id)

    async def field_names(self, identity: Identity | None) -> list[str]:
        """Names of the existing fields (to refuse a duplicate before asking the portal)."""
        self.authorize(identity)
        return [f.field_name for f in await self._portal.list_lead_userfields()]

    async def create_field(
        self,
        identity: Identity | None,
        *,
        name: str,
        label: str,
        field_type: FieldType,
        values: Iterable[str] = (),
    ) -> int:
        """Create a field; list values only for the list type. Returns the new id."""
        self.authorize(identity)
        checked = check_field_name(name)
        if isinstance(checked, NameProblem):
            raise ValueError(f"bad field name: {checked.value}")
        items = new_list_items(values, ()) if field_type is FieldType.LIST else None
        draft = UserFieldDraft(
            field_name=checked[len(FIELD_PREFIX) :],
            user_type_id=field_type.value,
            label=label,
            edit_form_label=label,
            list_column_label=label,
            list_filter_label=label,
            mandatory=False,
            items=items,
        )
        field_id = await self._portal.add_lead_userfield(draft)
        self._catalog.invalidate()
        log.info("lead field %s (%s) created, id %d", checked, field_type.value, field_id)
        return field_id

    async def _update(self, field_id: int, changes: UserFieldChanges) -> None:
        await self._portal.update_lead_userfield(field_id, changes)
        self._catalog.invalidate()

    async def rename_field(
        self, identity: Identity | None, field_id: int, language: str, label: str
    ) -> None:
        """Give the field a new label in `language` in every label slot."""
        field = await self.get_field(identity, field_id)
        await self._update(
            field_id,
            UserFieldChanges(
                edit_form_label=renamed_label(field.edit_form_label, language, label),
                list_column_label=renamed_label(field.list_column_label, language, label),
                list_filter_label=renamed_label(field.list_filter_label, language, label),
            ),
        )
        log.info("lead field %d renamed", field_id)

    async def set_required(self, identity: Identity | None, field_id: int, required: bool) -> None:
        """Make the field required on every lead, or optional."""
        self.authorize(identity)
        await self._update(field_id, UserFieldChanges(mandatory=required))
        log.info("lead field %d required=%s", field_id, required)

    async def add_values(
        self, identity: Identity | None, field_id: int, values: list[str]
    ) -> None:
        """Append list values (after the existing ones)."""
        field = await self.get_field(identity, field_id)
        items = new_list_items(values, field.items or [])
        await self._update(field_id, UserFieldChanges(items=items))
        log.info("lead field %d: %d list values added", field_id, len(items))

    async def rename_value(
        self, identity: Identity | None, field_id: int, item_id: int, value: str
    ) -> None:
        """Change the text of one list value (leads keep it: they store the item id)."""
        self.authorize(identity)
        await self._update(
            field_id, UserFieldChanges(items=[UserFieldEnumItem(id=item_id, value=value)])
        )
        log.info("lead field %d: list value %d renamed", field_id, item_id)

    async def delete_value(self, identity: Identity | None, field_id: int, item_id: int) -> None:
        """Remove one list value."""
        self.authorize(identity)
        await self._update(
            field_id, UserFieldChanges(items=[UserFieldEnumItem(id=item_id, delete=True)])
        )
        log.info("lead field %d: list value %d deleted", field_id, item_id)

    async def delete_field(self, identity: Identity | None, field_id: int) -> None:
        """Delete the field and its values on every lead."""
        self.authorize(identity)
        await self._portal.delete_lead_userfield(field_id)
        self._catalog.invalidate()
        log.info("lead field %d deleted", field_id)
