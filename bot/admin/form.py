"""Which optional lead fields the capture form asks for, and in which order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.access.roles import Action, Identity
from bot.access.service import AccessDenied
from bot.leads.catalog import PortalCatalog
from bot.leads.form import DEFAULT_OPTIONAL_FIELDS, OPTIONAL_FIELDS_KEY
from bot.portal import FieldDescriptor
from bot.storage import KeyValueRepository

log = logging.getLogger(__name__)

# Writable, but kept by the bot itself or meaningless to type by hand.
TECHNICAL_FIELDS = frozenset(
    {"ORIGINATOR_ID", "ORIGIN_ID", "ADDRESS_LOC_ADDR_ID", "STATUS_ID", "ASSIGNED_BY_ID"}
)


Askable = Callable[[str, FieldDescriptor], bool]
"""Whether the capture form knows how to ask a field (given by the composition root)."""


@dataclass(frozen=True, slots=True)
class FormField:
    """A lead field as the form settings show it."""

    code: str
    label: str


def field_title(code: str, descriptor: FieldDescriptor) -> str:
    """The human name of a field (user fields carry it in their form label)."""
    if descriptor.is_dynamic:
        return descriptor.form_label or descriptor.list_label or descriptor.title or code
    return descriptor.title or code


def is_choosable(code: str, descriptor: FieldDescriptor, askable: Askable | None = None) -> bool:
    """An optional field the form may ask: writable, current, not required anyway, and of a
    kind the form can ask (`askable`)."""
    if (
        descriptor.is_read_only
        or descriptor.is_deprecated
        or descriptor.is_required
        or code in TECHNICAL_FIELDS
    ):
        return False
    return askable is None or askable(code, descriptor)


def required_fields(fields: Mapping[str, FieldDescriptor]) -> list[FormField]:
    """Fields the portal requires: the form always asks them."""
    return [
        FormField(code, field_title(code, d))
        for code, d in fields.items()
        if d.is_required and not d.is_read_only
    ]


def choosable_fields(
    fields: Mapping[str, FieldDescriptor], askable: Askable | None = None
) -> list[FormField]:
    """Fields an admin may add to the form, in the portal's order."""
    return [
        FormField(code, field_title(code, d))
        for code, d in fields.items()
        if is_choosable(code, d, askable)
    ]


def clean_choice(
    codes: Sequence[str], fields: Mapping[str, FieldDescriptor], askable: Askable | None = None
) -> list[str]:
    """The choice without unknown, no-longer-choosable and repeated codes, order kept."""
    seen: set[str] = set()
    result = []
    for code in codes:
        descriptor = fields.get(code)
        if descriptor is None or code in seen or not is_choosable(code, descriptor, askable):
            continue
        seen.add(code)
        result.append(code)
    return result


def move(chosen: Sequence[str], code: str, step: int) -> list[str]:
    """Move `code` up (-1) or down (+1) by one place; at an edge nothing changes."""
    result = list(chosen)
    if code not in result:
        return result
    index = result.index(code)
    target = index + step
    if 0 <= target < len(result):
        result[index], result[target] = result[target], result[index]
    return result


class FormFieldsService:
    """Reads and stores the admin's choice of optional form fields (re-checks MANAGE_FIELDS)."""

    def __init__(
        self, kv: KeyValueRepository, catalog: PortalCatalog, *, askable: Askable | None = None
    ) -> None:
        self._kv = kv
        self._catalog = catalog
        self._askable = askable

    def offered(self, fields: Mapping[str, FieldDescriptor]) -> list[FormField]:
        """Fields an admin may add to the form, in the portal's order."""
        return choosable_fields(fields, self._askable)

    def default_choice(self, fields: Mapping[str, FieldDescriptor]) -> list[str]:
        """The default optional fields the portal offers."""
        return clean_choice(DEFAULT_OPTIONAL_FIELDS, fields, self._askable)

    @staticmethod
    def authorize(identity: Identity | None) -> None:
        """Raise `AccessDenied` unless the caller's role allows these tools."""
        if identity is None or not identity.may(Action.MANAGE_FIELDS):
            raise AccessDenied(Action.MANAGE_FIELDS.value)

    async def stored_choice(self) -> list[str]:
        """The stored choice as it is, or the default when none was saved."""
        value = await self._kv.get(OPTIONAL_FIELDS_KEY)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        return list(DEFAULT_OPTIONAL_FIELDS)

    async def current(self, identity: Identity | None) -> list[str]:
        """The current choice, limited to fields the portal still offers."""
        self.authorize(identity)
        snapshot = await self._catalog.get()
        return clean_choice(await self.stored_choice(), snapshot.fields, self._askable)

    async def save(self, identity: Identity | None, codes: Sequence[str]) -> list[str]:
        """Store the choice (durably); returns what was stored."""
        self.authorize(identity)
        snapshot = await self._catalog.get()
        cleaned = clean_choice(codes, snapshot.fields, self._askable)
        await self._kv.set(OPTIONAL_FIELDS_KEY, cleaned, durable=True)
        log.info("form fields saved: %d optional fields", len(cleaned))
        return cleaned

    async def reset(self, identity: Identity | None) -> None:
        """Forget the choice: the form asks the default fields again."""
        self.authorize(identity)
        await self._kv.delete(OPTIONAL_FIELDS_KEY)
