"""The lead capture form, pure: which fields it asks, in what order, and how answers are read.

The form is built from the portal's own field descriptors: every writable field the portal
marks required (user fields included), plus the optional fields an admin picked. Answers are
kept as JSON values (the form's draft lives in dialog state) and turned into a `LeadDraft` at
the end. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from bot.phones import normalize_phone
from bot.portal import FieldDescriptor, LeadDraft, Status

__all__ = [
    "DEFAULT_OPTIONAL_FIELDS",
    "LONG_TEXT_LIMIT",
    "OPTIONAL_FIELDS_KEY",
    "SHORT_TEXT_LIMIT",
    "Choice",
    "FieldKind",
    "FormField",
    "FormValue",
    "InputRejected",
    "build_form",
    "choose",
    "display_value",
    "draft_fields",
    "field_kind",
    "lead_draft",
    "missing_required",
    "optional_codes",
    "parse_date",
    "parse_email",
    "parse_integer",
    "parse_number",
    "parse_phone",
    "parse_text",
    "parse_typed",
    "prefill_values",
    "status_types_used",
]

OPTIONAL_FIELDS_KEY = "form.optional_fields"
"""KeyValueRepository key of the admin's choice: a JSON list of field codes, in order."""
DEFAULT_OPTIONAL_FIELDS: tuple[str, ...] = (
    "TITLE",
    "NAME",
    "LAST_NAME",
    "PHONE",
    "EMAIL",
    "COMPANY_TITLE",
    "SOURCE_ID",
    "COMMENTS",
)
"""The optional fields the form asks until an admin chooses others."""

SHORT_TEXT_LIMIT = 255
"""Titles, names and other one-line fields: the portal keeps 255 characters."""
LONG_TEXT_LIMIT = 3000
"""Comments and user-field text: long, but a summary must still fit one Telegram message."""
_LONG_TEXT_FIELDS = frozenset({"COMMENTS", "SOURCE_DESCRIPTION", "STATUS_DESCRIPTION"})

# Fields the bot fills itself (responsible, idempotency key) or that link other entities.
_MANAGED_FIELDS = frozenset(
    {
        "ID",
        "ASSIGNED_BY_ID",
        "ORIGIN_ID",
        "ORIGINATOR_ID",
        "CONTACT_ID",
        "CONTACT_IDS",
        "COMPANY_ID",
        "CURRENCY_ID",
        "ADDRESS_LOC_ADDR_ID",
    }
)
_MAX_INTEGER = 2**31 - 1
_MAX_NUMBER_DIGITS = 15
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")
_SPACES = re.compile(r"[\s\u00a0\u2007\u202f']+")
_ONE_LINE = re.compile(r"\s+")

FormValue = str | int | bool
"""An answer as kept in the draft: text, integer, yes/no, a choice id or an ISO date."""


class FieldKind(StrEnum):
    """How a field is asked and read."""

    STRING = "string"
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    YES_NO = "yes_no"
    CHOICE = "choice"
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Choice:
    """One button of a list field: the value sent to the portal and its caption."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class FormField:
    """One question of the form."""

    code: str
    label: str
    kind: FieldKind
    required: bool
    multiple: bool = False
    choices: tuple[Choice, ...] = ()
    flag_style: str = "char"
    """For YES_NO: `char` fields take "Y"/"N", `boolean` user fields take 1/0."""
    multiline: bool = True
    """For TEXT: whether the portal shows it as several lines (a one-line custom field
    keeps its long limit but is read, and asked for, as one line)."""

    @property
    def hint_key(self) -> str:
        """The locale key that says how to answer this field."""
        if self.kind is FieldKind.TEXT and not self.multiline:
            return "capture-hint-line"
        return f"capture-hint-{self.kind.value}"

    @property
    def max_length(self) -> int:
        """The longest text this field takes."""
        return SHORT_TEXT_LIMIT if self.kind is FieldKind.STRING else LONG_TEXT_LIMIT


class InputRejected(ValueError):
    """An answer the form cannot take; `reason` is a locale key saying why, `args` its values."""

    def __init__(self, reason: str, **args: str | int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.args_for_message = args


def field_kind(code: str, descriptor: FieldDescriptor) -> FieldKind | None:
    """How the form asks this field, or None when it cannot (or must not) ask it."""
    if descriptor.is_read_only or code in _MANAGED_FIELDS or descriptor.is_deprecated:
        return None
    kind = descriptor.type
    if code == "PHONE" and kind == "crm_multifield":
        return FieldKind.PHONE
    if code == "EMAIL" and kind == "crm_multifield":
        return FieldKind.EMAIL
    if code == "OPPORTUNITY":
        return FieldKind.MONEY
    if kind in ("string", "url"):
        if code in _LONG_TEXT_FIELDS or descriptor.is_dynamic:
            return FieldKind.TEXT
        return FieldKind.STRING
    simple = {
        "integer": FieldKind.INTEGER,
        "double": FieldKind.NUMBER,
        "date": FieldKind.DATE,
        "datetime": FieldKind.DATE,
        "boolean": FieldKind.YES_NO,
        "char": FieldKind.YES_NO,
    }
    if kind in simple:
        return simple[kind]
    if kind == "enumeration" and descriptor.items:
        return FieldKind.CHOICE
    if kind == "crm_status" and descriptor.status_type:
        return FieldKind.CHOICE
    return None


def optional_codes(stored: Any) -> list[str]:
    """The admin's optional fields from storage; the default list when unset or malformed."""
    if not isinstance(stored, list) or not all(isinstance(code, str) for code in stored):
        return list(DEFAULT_OPTIONAL_FIELDS)
    return list(dict.fromkeys(code.strip().upper() for code in stored if code.strip()))


def status_types_used(
    descriptors: Mapping[str, FieldDescriptor], optional: Sequence[str]
) -> set[str]:
    """The `crm_status` dictionaries (`SOURCE`, `HONORIFIC`...) the form will need."""
    wanted = set(optional)
    return {
        d.status_type
        for code, d in descriptors.items()
        if d.type == "crm_status"
        and d.status_type
        and (d.is_required or code in wanted)
        and field_kind(code, d) is not None
    }


def _choices(
    descriptor: FieldDescriptor, statuses: Mapping[str, Sequence[Status]]
) -> tuple[Choice, ...]:
    if descriptor.type == "enumeration":
        return tuple(
            Choice(str(item.id), item.value or str(item.id))
            for item in descriptor.items or ()
            if item.id is not None
        )
    entries = statuses.get(descriptor.status_type or "", ())
    return tuple(Choice(s.status_id, s.name or s.status_id) for s in entries)


def _multiline(code: str, descriptor: FieldDescriptor) -> bool:
    # A custom string field is one line unless its settings give it several rows.
    if code in _LONG_TEXT_FIELDS or not descriptor.is_dynamic:
        return True
    rows = str((descriptor.settings or {}).get("ROWS") or "")
    try:
        return int(rows) > 1
    except (TypeError, ValueError):
        return False


def build_form(
    descriptors: Mapping[str, FieldDescriptor],
    optional: Sequence[str],
    statuses: Mapping[str, Sequence[Status]],
) -> list[FormField]:
    """The questions, in order: the admin's fields as listed, then other required fields.

    Read-only, unknown and unaskable fields are left out; a list field whose options are
    unknown is left out too (the portal would refuse any answer).
    """
    required = [code for code, d in descriptors.items() if d.is_required]
    order = list(dict.fromkeys([*optional, *required]))
    form: list[FormField] = []
    for code in order:
        descriptor = descriptors.get(code)
        if descriptor is None:
            continue
        kind = field_kind(code, descriptor)
        if kind is None:
            continue
        choices = _choices(descriptor, statuses) if kind is FieldKind.CHOICE else ()
        if kind is FieldKind.CHOICE and not choices:
            continue
        form.append(
            FormField(
                code=code,
                label=descriptor.label or code,
                kind=kind,
                required=descriptor.is_required,
                multiple=descriptor.is_multiple and kind not in (FieldKind.PHONE, FieldKind.EMAIL),
                choices=choices,
                flag_style="boolean" if descriptor.type == "boolean" else "char",
                multiline=kind is FieldKind.TEXT and _multiline(code, descriptor),
            )
        )
    return form


# --- reading answers ---------------------------------------------------------------------


def parse_text(text: str, max_length: int, *, one_line: bool) -> str:
    """Trimmed text; one-line fields get their whitespace collapsed. Too long is refused."""
    value = _ONE_LINE.sub(" ", text).strip() if one_line else text.strip()
    if not value:
        raise InputRejected("capture-error-empty")
    if len(value) > max_length:
        raise InputRejected("capture-error-too-long", limit=max_length, length=len(value))
    return value


def parse_phone(text: str, region: str) -> str:
    """A phone number in E.164 (`+79161234567`); anything else is refused."""
    if len(text) > 64:
        raise InputRejected("capture-error-phone")
    e164 = normalize_phone(text, region)
    if e164 is None:
        raise InputRejected("capture-error-phone")
    return e164


def parse_email(text: str) -> str:
    """An e-mail address (`local@domain.tld`, domain lowercased); anything else is refused."""
    value = text.strip()
    if not value or len(value) > 254 or value.count("@") != 1:
        raise InputRejected("capture-error-email")
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        raise InputRejected("capture-error-email")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InputRejected("capture-error-email") from None
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or len(labels) < 2:
        raise InputRejected("capture-error-email")
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels[:-1]):
        raise InputRejected("capture-error-email")
    if not _TLD.fullmatch(labels[-1]):
        raise InputRejected("capture-error-email")
    return f"{local}@{domain.lower()}"


def _number_text(text: str) -> str:
    value = _SPACES.sub("", text.strip())
    if value.count(",") and value.count("."):
        value = value.replace(",", "")  # 12,500.50: commas group thousands
    elif value.count(",") == 1:
        value = value.replace(",", ".")  # 1,5: a decimal comma
    return value


def parse_integer(text: str) -> int:
    """A whole number (`12 500`, `-3`); fractions and words are refused."""
    value = _number_text(text)
    if len(value) > _MAX_NUMBER_DIGITS + 1 or not re.fullmatch(r"[+-]?\d+", value):
        raise InputRejected("capture-error-integer")
    number = int(value)
    if abs(number) > _MAX_INTEGER:
        raise InputRejected("capture-error-integer")
    return number


def parse_number(text: str, *, money: bool = False) -> str:
    """A decimal number as canonical text (`12500.5`); money is non-negative, 2 decimals."""
    reason = "capture-error-money" if money else "capture-error-number"
    value = _number_text(text)
    if len(value) > 2 * _MAX_NUMBER_DIGITS or not re.fullmatch(r"[+-]?\d+(\.\d+)?", value):
        raise InputRejected(reason)
    if len(value.lstrip("+-").split(".")[0].lstrip("0")) > _MAX_NUMBER_DIGITS:
        raise InputRejected(reason)
    try:
        number = Decimal(value)
        if money:
            if number < 0:
                raise InputRejected(reason)
            number = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise InputRejected(reason) from None
    text_value = format(number.normalize(), "f")
    return "0" if text_value in ("-0", "+0") else text_value


_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y")


def parse_date(text: str) -> str:
    """A date typed as `31.12.2025` or `2025-12-31`, kept as ISO text."""
    value = text.strip()
    if len(value) > 10:
        raise InputRejected("capture-error-date")
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    raise InputRejected("capture-error-date")


def choose(field: FormField, choice_id: str) -> str:
    """The id of one of the field's options; an unknown id is refused."""
    if not any(choice.id == choice_id for choice in field.choices):
        raise InputRejected("capture-error-choice")
    return choice_id


def parse_typed(field: FormField, text: str, region: str) -> FormValue:
    """Read a typed answer for `field`; raises InputRejected with the reason."""
    kind = field.kind
    if kind is FieldKind.STRING:
        return parse_text(text, SHORT_TEXT_LIMIT, one_line=True)
    if kind is FieldKind.TEXT:
        return parse_text(text, LONG_TEXT_LIMIT, one_line=not field.multiline)
    if kind is FieldKind.PHONE:
        return parse_phone(text, region)
    if kind is FieldKind.EMAIL:
        return parse_email(text)
    if kind is FieldKind.INTEGER:
        return parse_integer(text)
    if kind is FieldKind.NUMBER:
        return parse_number(text)
    if kind is FieldKind.MONEY:
        return parse_number(text, money=True)
    if kind is FieldKind.DATE:
        return parse_date(text)
    if kind is FieldKind.CHOICE:
        wanted = text.strip().casefold()
        for choice in field.choices:
            if choice.label.casefold() == wanted:
                return choice.id
        raise InputRejected("capture-error-choice")
    raise InputRejected("capture-error-use-buttons")


def prefill_values(
    form: Sequence[FormField], prefill: Mapping[str, str], region: str
) -> dict[str, FormValue]:
    """Answers taken from a shared contact or a forwarded message; unreadable ones are dropped.

    Text too long for its field is cut rather than lost: it came from a message, not a typo.
    """
    by_code = {field.code: field for field in form}
    values: dict[str, FormValue] = {}
    for code, raw in prefill.items():
        field = by_code.get(code)
        if field is None or not isinstance(raw, str):
            continue
        text = raw[: field.max_length] if field.kind in (FieldKind.STRING, FieldKind.TEXT) else raw
        try:
            values[code] = parse_typed(field, text, region)
        except InputRejected:
            continue
    return values


def missing_required(form: Iterable[FormField], values: Mapping[str, Any]) -> list[FormField]:
    """Required fields without an answer."""
    return [field for field in form if field.required and values.get(field.code) is None]


def display_value(field: FormField, value: Any) -> str:
    """An answer as a person reads it (plain text, not escaped)."""
    if value is None:
        return ""
    if field.kind is FieldKind.YES_NO:
        return "✓" if value else "✗"
    if field.kind is FieldKind.CHOICE:
        label = next((c.label for c in field.choices if c.id == str(value)), None)
        return label if label is not None else str(value)
    if field.kind is FieldKind.DATE:
        try:
            return date.fromisoformat(str(value)).strftime("%d.%m.%Y")
        except ValueError:
            return str(value)
    return str(value)


def _portal_value(field: FormField, value: FormValue) -> Any:
    kind = field.kind
    if kind in (FieldKind.PHONE, FieldKind.EMAIL):
        return [{"VALUE": str(value), "VALUE_TYPE": "WORK"}]
    if kind is FieldKind.YES_NO:
        if field.flag_style == "boolean":
            return 1 if value else 0
        return "Y" if value else "N"
    if kind is FieldKind.CHOICE and field.code.startswith("UF_"):
        number: Any = int(value) if str(value).isdigit() else value
        return [number] if field.multiple else number
    if field.multiple:
        return [value]
    return value


def draft_fields(form: Iterable[FormField], values: Mapping[str, Any]) -> dict[str, Any]:
    """The portal's `fields` for the answered questions (unanswered ones are not sent)."""
    fields: dict[str, Any] = {}
    for field in form:
        value = values.get(field.code)
        if value is None:
            continue
        fields[field.code] = _portal_value(field, value)
    return fields


def lead_draft(
    form: Iterable[FormField],
    values: Mapping[str, Any],
    *,
    assigned_by_id: int,
    origin_id: str,
) -> LeadDraft:
    """The new lead: the answers, the responsible user and the draft's own ORIGIN_ID."""
    fields = draft_fields(form, values)
    fields["ASSIGNED_BY_ID"] = assigned_by_id
    fields["ORIGIN_ID"] = origin_id
    return LeadDraft.model_validate(fields)
