"""CRM tables of the Bitrix24 emulator: field catalogues, storage, filter/order/select, paging."""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tests.emulators.bitrix24_php import php_float, php_int, php_truthy

PAGE_SIZE = 50
MULTIFIELD_TYPES = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
DEFAULT_VALUE_TYPE = {
    "PHONE": "WORK",
    "EMAIL": "WORK",
    "WEB": "WORK",
    "IM": "OTHER",
    "LINK": "USER",
}
NUMERIC_TYPES = frozenset(
    {"integer", "int", "user", "crm_company", "crm_contact", "crm_lead", "double", "employee"}
)
DATE_TYPES = frozenset({"date", "datetime"})
# LIKE filters on these types are rewritten to exact equality by the portal.
EXACT_ONLY_TYPES = frozenset({"crm_status", "crm_company", "crm_contact"})


class CrmError(Exception):
    """A REST error raised by a method: code (often ""), description, HTTP status."""

    def __init__(self, description: str, code: str = "", status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass(frozen=True)
class FieldSpec:
    """One standard field of a CRM entity as `*.fields` describes it."""

    name: str
    type: str
    title: str
    read_only: bool = False
    immutable: bool = False
    multiple: bool = False
    deprecated: bool = False
    status_type: str | None = None
    settings: Mapping[str, Any] | None = None

    def descriptor(self, required: bool = False) -> dict[str, Any]:
        """Render as the REST field descriptor."""
        out: dict[str, Any] = {
            "type": self.type,
            "isRequired": required,
            "isReadOnly": self.read_only,
            "isImmutable": self.immutable,
            "isMultiple": self.multiple,
            "isDynamic": False,
        }
        if self.deprecated:
            out["isDeprecated"] = True
        if self.status_type:
            out["statusType"] = self.status_type
        if self.settings is not None:
            out["settings"] = dict(self.settings)
        out["title"] = self.title
        return out


def _f(name: str, type_: str, title: str | None = None, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=type_, title=title or name, **kw)


_ADDRESS = [
    _f("ADDRESS", "string", "Address"),
    _f("ADDRESS_2", "string", "Address (Line 2)"),
    _f("ADDRESS_CITY", "string", "City"),
    _f("ADDRESS_POSTAL_CODE", "string", "Postal Code"),
    _f("ADDRESS_REGION", "string", "Region"),
    _f("ADDRESS_PROVINCE", "string", "Province"),
    _f("ADDRESS_COUNTRY", "string", "Country"),
    _f("ADDRESS_COUNTRY_CODE", "string", "Country Code"),
    _f("ADDRESS_LOC_ADDR_ID", "integer", "Location Address ID"),
]
_UTM = [
    _f("UTM_SOURCE", "string", "Advertising System"),
    _f("UTM_MEDIUM", "string", "Traffic Type"),
    _f("UTM_CAMPAIGN", "string", "Campaign Identifier"),
    _f("UTM_CONTENT", "string", "Campaign Content"),
    _f("UTM_TERM", "string", "Campaign Search Term"),
]
_MULTI = [
    _f("PHONE", "crm_multifield", "Phone", multiple=True),
    _f("EMAIL", "crm_multifield", "E-mail", multiple=True),
    _f("WEB", "crm_multifield", "Website", multiple=True),
    _f("IM", "crm_multifield", "Messenger", multiple=True),
    _f("LINK", "crm_multifield", "LINK", multiple=True),
]

LEAD_FIELDS: list[FieldSpec] = [
    _f("ID", "integer", "ID", read_only=True),
    _f("TITLE", "string", "Lead Title"),
    _f("HONORIFIC", "crm_status", "Salutation", status_type="HONORIFIC"),
    _f("NAME", "string", "First Name"),
    _f("SECOND_NAME", "string", "Middle Name"),
    _f("LAST_NAME", "string", "Last Name"),
    _f("BIRTHDATE", "date", "Birthdate"),
    _f("COMPANY_TITLE", "string", "Company Name"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source Description"),
    _f("STATUS_ID", "crm_status", "Stage", status_type="STATUS"),
    _f("STATUS_DESCRIPTION", "string", "Stage Description"),
    _f("STATUS_SEMANTIC_ID", "string", "Status Semantic", read_only=True),
    _f("POST", "string", "Position"),
    *_ADDRESS,
    _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("OPPORTUNITY", "double", "Amount"),
    _f("IS_MANUAL_OPPORTUNITY", "char", "IS_MANUAL_OPPORTUNITY"),
    _f("OPENED", "char", "Available to All"),
    _f("COMMENTS", "string", "Comments"),
    _f("HAS_PHONE", "char", "Phone Provided", read_only=True),
    _f("HAS_EMAIL", "char", "Email Provided", read_only=True),
    _f("HAS_IMOL", "char", "Open Line Assigned", read_only=True),
    _f("ASSIGNED_BY_ID", "user", "Responsible User"),
    _f("CREATED_BY_ID", "user", "Created By", read_only=True),
    _f("MODIFY_BY_ID", "user", "Modified By", read_only=True),
    _f("MOVED_BY_ID", "user", "MOVED_BY_ID", read_only=True),
    _f("DATE_CREATE", "datetime", "Creation Date", read_only=True),
    _f("DATE_MODIFY", "datetime", "Modification Date", read_only=True),
    _f("MOVED_TIME", "datetime", "MOVED_TIME", read_only=True),
    _f("COMPANY_ID", "crm_company", "Company", settings={"parentEntityTypeId": 4}),
    _f("CONTACT_ID", "crm_contact", "Contact", deprecated=True),
    _f("CONTACT_IDS", "crm_contact", "CONTACT_IDS", multiple=True),
    _f("IS_RETURN_CUSTOMER", "char", "Returning Lead", read_only=True),
    _f("DATE_CLOSED", "datetime", "Closing Date", read_only=True),
    _f("ORIGINATOR_ID", "string", "External Source"),
    _f("ORIGIN_ID", "string", "Identifier in External Source"),
    *_UTM,
    _f("LAST_ACTIVITY_TIME", "datetime", "LAST_ACTIVITY_TIME", read_only=True),
    _f("LAST_ACTIVITY_BY", "user", "LAST_ACTIVITY_BY", read_only=True),
    *_MULTI,
]

CONTACT_FIELDS: list[FieldSpec] = [
    _f("ID", "integer", "ID", read_only=True),
    _f("HONORIFIC", "crm_status", "Salutation", status_type="HONORIFIC"),
    _f("NAME", "string", "First name"),
    _f("SECOND_NAME", "string", "Second name"),
    _f("LAST_NAME", "string", "Last name"),
    _f("PHOTO", "file", "Photo"),
    _f("BIRTHDATE", "date", "Date of birth"),
    _f("TYPE_ID", "crm_status", "Contact type", status_type="CONTACT_TYPE"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source information"),
    _f("POST", "string", "Position"),
    *_ADDRESS,
    _f("COMMENTS", "string", "Comment"),
    _f("OPENED", "char", "Available to everyone"),
    _f("EXPORT", "char", "Included in export"),
    _f("HAS_PHONE", "char", "Has phone", read_only=True),
    _f("HAS_EMAIL", "char", "Has email", read_only=True),
    _f("HAS_IMOL", "char", "Has Open Channel", read_only=True),
    _f("ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("CREATED_BY_ID", "user", "Created by", read_only=True),
    _f("MODIFY_BY_ID", "user", "Modified by", read_only=True),
    _f("DATE_CREATE", "datetime", "Created on", read_only=True),
    _f("DATE_MODIFY", "datetime", "Modified on", read_only=True),
    _f("COMPANY_ID", "crm_company", "Company", deprecated=True),
    _f("COMPANY_IDS", "crm_company", "COMPANY_IDS", multiple=True),
    _f("LEAD_ID", "crm_lead", "Lead", read_only=True),
    _f("ORIGINATOR_ID", "string", "External source"),
    _f("ORIGIN_ID", "string", "External source item ID"),
    *_UTM,
    _f("LAST_ACTIVITY_TIME", "datetime", "LAST_ACTIVITY_TIME", read_only=True),
    _f("LAST_ACTIVITY_BY", "user", "LAST_ACTIVITY_BY", read_only=True),
    *_MULTI,
]

DEAL_FIELDS: list[FieldSpec] = [
    _f("ID", "integer", "ID", read_only=True),
    _f("TITLE", "string", "Name"),
    _f("TYPE_ID", "crm_status", "Type", status_type="DEAL_TYPE"),
    _f("CATEGORY_ID", "crm_category", "Pipeline", immutable=True),
    _f("STAGE_ID", "crm_status", "Deal stage", status_type="DEAL_STAGE"),
    _f("STAGE_SEMANTIC_ID", "string", "Stage group", read_only=True),
    _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("OPPORTUNITY", "double", "Income"),
    _f("COMPANY_ID", "crm_company", "Company"),
    _f("CONTACT_ID", "crm_contact", "Contact", deprecated=True),
    _f("ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("CREATED_BY_ID", "user", "Created by", read_only=True),
    _f("MODIFY_BY_ID", "user", "Modified by", read_only=True),
    _f("DATE_CREATE", "datetime", "Created on", read_only=True),
    _f("DATE_MODIFY", "datetime", "Modified on", read_only=True),
    _f("LEAD_ID", "crm_lead", "Lead"),
    _f("CLOSED", "char", "Closed"),
    _f("OPENED", "char", "Available to everyone"),
    _f("COMMENTS", "string", "Comment"),
]

PRODUCT_FIELDS: list[FieldSpec] = [
    _f("ID", "integer", "ID", read_only=True),
    _f("NAME", "string", "Name"),
    _f("CODE", "string", "Symbolic code"),
    _f("ACTIVE", "char", "Active"),
    _f("SECTION_ID", "product_section", "Section"),
    _f("SORT", "integer", "Sort"),
    _f("DESCRIPTION", "string", "Description"),
    _f("PRICE", "double", "Price"),
    _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("VAT_ID", "integer", "VAT rate"),
    _f("VAT_INCLUDED", "char", "VAT included"),
    _f("MEASURE", "integer", "Unit of measurement"),
    _f("XML_ID", "string", "External ID"),
]


# ---------------------------------------------------------------------------- dates and values


def parse_datetime(value: Any, tz: timezone) -> datetime | None:
    """Parse ISO-8601 or a Russian/English locale date; naive values take the portal zone."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for pattern in (
            "%d.%m.%Y %H:%M:%S",
            "%d.%m.%Y %H:%M",
            "%d.%m.%Y",
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y",
        ):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        if parsed is None:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def format_datetime(moment: datetime, tz: timezone) -> str:
    """Render like the portal: ISO-8601 with the portal's offset, whole seconds."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def format_money(value: float) -> str:
    """Render a money column as PHP returns it ("12500.00")."""
    return f"{value:.2f}"


def digits(value: str) -> str:
    """Digits of a phone number, ignoring formatting and an extension after 'ext'/'#'/','."""
    head = re.split(r"(?i)ext|доб|#|,|;", value, maxsplit=1)[0]
    return "".join(ch for ch in head if ch.isdigit())


# ---------------------------------------------------------------------------- filters


@dataclass
class FilterTerm:
    """One compiled filter condition."""

    field: str
    op: str  # eq, gt, ge, lt, le, in, like, wild, prefix
    negate: bool
    kind: str  # num, date, str, bool, multi
    values: list[Any]


_OPS = (
    ("=%", "wild"),
    ("%=", "wild"),
    (">=", "ge"),
    ("<=", "le"),
    ("@", "in"),
    ("%", "like"),
    ("?", "like"),
    ("=", "eq"),
    (">", "gt"),
    ("<", "lt"),
)


def split_filter_key(key: str) -> tuple[bool, str, str, bool]:
    """Split `!>=FIELD` into (negate, op, field, explicit_prefix)."""
    rest = key
    negate = False
    explicit = False
    if rest.startswith("+"):
        rest = rest[1:]
        explicit = True
    if rest.startswith("!"):
        negate = True
        explicit = True
        rest = rest[1:]
    op = "eq"
    for prefix, name in _OPS:
        if rest.startswith(prefix):
            op = name
            rest = rest[len(prefix) :]
            explicit = True
            break
    return negate, op, rest, explicit


def _wild_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value is False or value == []


@dataclass
class ColumnInfo:
    """How a column is compared: kind and type name."""

    kind: str
    type: str
    multiple: bool = False


def column_kind(type_name: str) -> str:
    """Comparison kind for a field type."""
    if type_name in NUMERIC_TYPES or type_name == "enumeration":
        return "num"
    if type_name in DATE_TYPES:
        return "date"
    if type_name == "boolean":
        return "bool"
    if type_name == "crm_multifield":
        return "multi"
    return "str"


def _prepare(kind: str, value: Any, tz: timezone) -> Any:
    if _is_empty(value):
        return None
    if kind == "num":
        return php_float(value)
    if kind == "date":
        return parse_datetime(value, tz)
    if kind == "bool":
        return _bool_value(value)
    return str(value).casefold()


def _bool_value(value: Any) -> bool:
    if isinstance(value, str):
        return value.upper() in ("Y", "1", "TRUE")
    return bool(value)


def _row_scalar(kind: str, value: Any, tz: timezone) -> Any:
    if isinstance(value, str | int | float):
        # Stored values repeat (responsibles, stages, times of a bulk insert): convert each once.
        return _cached_scalar(kind, value, tz)
    return _convert_scalar(kind, value, tz)


def _convert_scalar(kind: str, value: Any, tz: timezone) -> Any:
    if _is_empty(value):
        return None
    if kind == "num":
        return php_float(value)
    if kind == "date":
        return parse_datetime(value, tz)
    if kind == "bool":
        return _bool_value(value)
    return str(value).casefold()


_cached_scalar = functools.lru_cache(maxsize=1 << 16, typed=True)(_convert_scalar)


def compile_filter(
    raw: Mapping[str, Any], columns: Mapping[str, ColumnInfo], tz: timezone
) -> list[FilterTerm]:
    """Compile a REST filter; unknown fields and unsupported forms are dropped like the portal."""
    terms: list[FilterTerm] = []
    for key, value in raw.items():
        negate, op, name, explicit = split_filter_key(str(key))
        name = name.upper()
        info = columns.get(name)
        if info is None:
            continue
        if info.kind == "multi":
            # Only the bare key is honoured; the portal turns it into a prefix LIKE.
            if explicit:
                continue
            first = value[0] if isinstance(value, list) and value else value
            if isinstance(first, list | dict) or _is_empty(first):
                continue
            terms.append(FilterTerm(name, "prefix", False, "multi", [str(first).casefold()]))
            continue
        if op in ("like", "wild") and info.type in EXACT_ONLY_TYPES:
            op = "eq"
        if op in ("like", "wild"):
            if _is_empty(value):
                continue
            if op == "like":
                terms.append(FilterTerm(name, "like", negate, info.kind, [str(value).casefold()]))
            else:
                terms.append(
                    FilterTerm(name, "wild", negate, info.kind, [_wild_regex(str(value))])
                )
            continue
        if op == "in" or (op == "eq" and isinstance(value, list)):
            items = value if isinstance(value, list) else [value]
            if isinstance(value, dict):
                items = list(value.values())
            prepared = [_prepare(info.kind, v, tz) for v in items]
            terms.append(FilterTerm(name, "in", negate, info.kind, prepared))
            continue
        if isinstance(value, dict):
            continue
        prepared_value = _prepare(info.kind, value, tz)
        if op != "eq" and prepared_value is None:
            continue
        terms.append(FilterTerm(name, op, negate, info.kind, [prepared_value]))
    return terms


def _match_scalar(term: FilterTerm, value: Any) -> bool:
    op = term.op
    if op == "eq":
        return value == term.values[0]
    if op == "in":
        return value in term.values
    if value is None:
        return False
    if op == "like":
        return term.values[0] in str(value)
    if op == "wild":
        return term.values[0].fullmatch(str(value)) is not None
    target = term.values[0]
    try:
        if op == "gt":
            return bool(value > target)
        if op == "ge":
            return bool(value >= target)
        if op == "lt":
            return bool(value < target)
        if op == "le":
            return bool(value <= target)
    except TypeError:
        return False
    return False


def term_check(term: FilterTerm, tz: timezone) -> Callable[[Mapping[str, Any]], bool]:
    """`match_term` for one term, with the common case (one stored value, `=` or `@`) inlined."""
    name, kind, negate = term.field, term.kind, term.negate
    if kind != "multi" and term.op in ("eq", "in"):
        wanted = set(term.values) if term.op == "in" else None
        target = term.values[0] if term.op == "eq" else None
        # Ids and other whole numbers are stored as plain digits: those compare as text.
        digits: set[str | None] = set()
        if kind == "num":
            digits = {_digits_of(v) for v in term.values} - {None}

        def check(row: Mapping[str, Any]) -> bool:
            raw = row.get(name)
            if digits and type(raw) is str and _is_plain_digits(raw):
                return (raw in digits) != negate
            if isinstance(raw, list):
                return match_term(term, row, tz)
            value = _row_scalar(kind, raw, tz)
            hit = value in wanted if wanted is not None else value == target
            return hit != negate

        if all(_hashable(v) for v in term.values):
            return check
    return lambda row: match_term(term, row, tz)


def _is_plain_digits(text: str) -> bool:
    """ASCII digits without a leading zero: the one text a whole number has."""
    return text.isascii() and text.isdigit() and (text[0] != "0" or text == "0")


def _digits_of(value: Any) -> str | None:
    """The plain digits of a whole non-negative number (None for anything else)."""
    if isinstance(value, float) and value.is_integer() and 0 <= value < 1e15:
        return str(int(value))
    return None


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def match_term(term: FilterTerm, row: Mapping[str, Any], tz: timezone) -> bool:
    """Evaluate one term against a stored row."""
    raw = row.get(term.field)
    if term.kind == "multi":
        prefix = term.values[0]
        items = raw or []
        return any(str(item.get("VALUE", "")).casefold().startswith(prefix) for item in items)
    if isinstance(raw, list):
        values = [_row_scalar(term.kind, v, tz) for v in raw] or [None]
        hit = any(_match_scalar(term, v) for v in values)
    else:
        hit = _match_scalar(term, _row_scalar(term.kind, raw, tz))
    return hit != term.negate


# ---------------------------------------------------------------------------- tables


@dataclass
class IdSequence:
    """An auto-increment counter."""

    next_value: int = 1

    def take(self) -> int:
        """Return the next id."""
        value = self.next_value
        self.next_value += 1
        return value


@dataclass
class ListQuery:
    """Parsed list parameters."""

    select: list[str] = field(default_factory=list)
    filter: dict[str, Any] = field(default_factory=dict)
    order: dict[str, str] = field(default_factory=dict)
    start: int = 0


@dataclass
class ListPage:
    """A page of a list answer."""

    items: list[dict[str, Any]]
    total: int
    next: int | None


INDEXED_FIELDS = frozenset({"ASSIGNED_BY_ID"})
"""Fields a list filter on `=`/`@` finds through an index instead of a scan of every row, as
the portal's database does: the morning's stale-lead reads filter a whole team's leads by
responsible, one list command per person."""

RANGE_SHARE = 0.25
"""Bounds on an indexed field go through its index when their range holds at most this share of
the rows (see `CrmTable._ranged_ids`)."""

ANSWERS_KEPT = 64
"""Answers an index keeps (`_Index.merged`, `_DateIndex.answered`); more are made again when
asked."""

DATED_FIELDS = frozenset({"DATE_MODIFY"})
"""Fields a `>`/`>=` filter finds through an ordered index instead of a scan, as the portal's
database does: the catch-up poll reads what changed since a moment, every half-minute."""


class StoredRow(dict[str, Any]):
    """A row as its table keeps it. Rows are edited in place all over the emulator (and by
    tests), so the row itself tells its table when a field with an index changes (by its id:
    a row being rewritten may be empty for a moment)."""

    __slots__ = ("_on_change", "_row_id")

    def __init__(
        self, data: Mapping[str, Any], row_id: int, on_change: Callable[[str, int], None]
    ) -> None:
        super().__init__(data)
        self._row_id = row_id
        self._on_change = on_change

    def _touch(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key in INDEXED_FIELDS or key in DATED_FIELDS:
                self._on_change(key, self._row_id)

    def __setitem__(self, key: str, value: Any) -> None:
        self._touch((key,))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._touch((key,))
        super().__delitem__(key)

    def __ior__(self, other: Any) -> StoredRow:  # type: ignore[override,misc]
        self.update(other)
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = dict(*args, **kwargs)
        self._touch(changes)
        super().update(changes)

    def pop(self, key: str, *default: Any) -> Any:
        self._touch((key,))
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self._touch((key,))
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self._touch((key,))
        return super().setdefault(key, default)

    def clear(self) -> None:
        self._touch(list(self))
        super().clear()


def _bucket_of(raw: Any) -> str | None:
    """The bucket of an indexed field's value: its plain digits, or None (`others`)."""
    return raw if type(raw) is str and _is_plain_digits(raw) else None


@dataclass
class _Index:
    """Row ids by the plain digits an indexed field holds; rows holding anything else (an
    int, an empty value, a list) are `others`: any filter value may match them."""

    buckets: dict[str, list[int]]
    others: list[int]
    values: list[int]
    """The buckets' values as numbers, ascending (`texts` holds their keys in that order)."""
    texts: list[str]
    placed: dict[int, str | None]
    """Each row's bucket (None: `others`), to take the row out of it when the row changes."""
    changed: set[int] = field(default_factory=set)
    """Rows added, edited or deleted since the last read: placed again at the next one. A
    lead's update rewrites every field of its row, the responsible too, mostly unchanged."""
    merged: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    """The ids of a run of buckets (`texts[first:last]`) and `others`, ascending: a team read's
    pages ask for the same range again and again. Dropped when a row changes bucket; a list
    handed out is never changed afterwards."""

    @classmethod
    def build(cls, rows: Mapping[int, Mapping[str, Any]], ids: Iterable[int], name: str) -> _Index:
        """The index of field `name` of rows `ids` (ascending, so every bucket is sorted)."""
        index = cls(buckets={}, others=[], values=[], texts=[], placed={})
        for row_id in ids:
            key = index.placed[row_id] = _bucket_of(rows[row_id].get(name))
            if key is None:
                index.others.append(row_id)
            else:
                index.buckets.setdefault(key, []).append(row_id)
        index._order()
        return index

    def _order(self) -> None:
        self.texts = sorted(self.buckets, key=int)
        self.values = [int(text) for text in self.texts]

    def place_changed(self, rows: Mapping[int, Mapping[str, Any]], name: str) -> None:
        """Put the rows changed since the last read where field `name` now says."""
        moved = reordered = False
        for row_id in self.changed:
            row = rows.get(row_id)
            new = None if row is None else _bucket_of(row.get(name))
            held_before = row_id in self.placed
            if (row is None and not held_before) or (
                row is not None and held_before and self.placed[row_id] == new
            ):
                continue
            moved = True
            if held_before:
                old = self.placed.pop(row_id)
                held = self.others if old is None else self.buckets[old]
                del held[bisect.bisect_left(held, row_id)]
                if old is not None and not held:
                    del self.buckets[old]
                    reordered = True
            if row is None:
                continue
            if new is None:
                bisect.insort(self.others, row_id)
            else:
                if new not in self.buckets:
                    self.buckets[new] = []
                    reordered = True
                bisect.insort(self.buckets[new], row_id)
            self.placed[row_id] = new
        self.changed.clear()
        if reordered:
            self._order()
        if moved:
            self.merged.clear()


@dataclass
class _DateIndex:
    """Row ids in the order of a date field's value (`ordered`: `(value, id)`), and the rows
    whose field changed since (added, edited or deleted): those are placed again in order at
    the next read, in one pass (a batch's later pages find nothing changed)."""

    ordered: list[tuple[datetime, int]]
    changed: set[int] = field(default_factory=set)
    answered: dict[tuple[datetime, bool], list[int]] = field(default_factory=dict)
    """The last answers, while nothing changed: a batch's pages ask with the same bound."""

    def after(
        self,
        bound: datetime,
        inclusive: bool,
        value_of: Callable[[int], datetime | None],
    ) -> list[int]:
        """The ids, ascending, whose value is after `bound` (or at it, with `inclusive`);
        `value_of` reads a changed row's value (None: no date, or no such row)."""
        if self.changed:
            kept = [entry for entry in self.ordered if entry[1] not in self.changed]
            for row_id in self.changed:
                value = value_of(row_id)
                if value is not None:
                    kept.append((value, row_id))
            kept.sort()
            self.ordered = kept
            self.changed.clear()
            self.answered.clear()
        key = (bound, inclusive)
        found = self.answered.get(key)
        if found is None:
            probe = (bound, -1) if inclusive else (bound, sys.maxsize)
            start = bisect.bisect_left(self.ordered, probe)
            found = sorted(row_id for _, row_id in self.ordered[start:])
            if len(self.answered) >= ANSWERS_KEPT:
                self.answered.clear()
            self.answered[key] = found
        return found


class CrmTable:
    """Rows of one CRM entity kept in the shape `*.get` returns, plus list machinery."""

    def __init__(
        self,
        entity: str,
        fields: Iterable[FieldSpec],
        tz: timezone,
        *,
        user_fields: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
        sort_key_for: Callable[[str, Any], Any] | None = None,
        default_select_uf: bool = False,
    ) -> None:
        self.entity = entity
        self.fields: dict[str, FieldSpec] = {f.name: f for f in fields}
        self.tz = tz
        self.rows: dict[int, dict[str, Any]] = {}
        self.ids: list[int] = []
        self._indexes: dict[str, _Index] = {}
        self._dated: dict[str, _DateIndex] = {}
        self.sequence = IdSequence()
        # Rows matched by list calls that count their matches (start >= 0): the portal's
        # costly part of such a call (bitrix24_state.count_server_time_per_row).
        self.rows_counted = 0
        self.queries = 0
        """List calls answered (a batch's repeated keyset page is answered once)."""
        self._user_fields = user_fields or (dict)
        self._sort_key_for = sort_key_for
        self.default_select_uf = default_select_uf

    # -- storage

    def insert(self, row: Mapping[str, Any], row_id: int | None = None) -> int:
        """Store a copy of a fully prepared row (edit `rows[id]` afterwards, not `row`);
        assigns an id when none is given."""
        new_id = row_id if row_id is not None else self.sequence.take()
        self.sequence.next_value = max(self.sequence.next_value, new_id + 1)
        stored = StoredRow(row, new_id, self._index_changed)
        stored["ID"] = str(new_id)
        self._row_changed(new_id)
        self.rows[new_id] = stored
        position = bisect.bisect_left(self.ids, new_id)
        if position >= len(self.ids) or self.ids[position] != new_id:
            self.ids.insert(position, new_id)
        return new_id

    def delete(self, row_id: int) -> bool:
        """Remove a row; False when it did not exist."""
        if self.rows.pop(row_id, None) is None:
            return False
        self._row_changed(row_id)
        position = bisect.bisect_left(self.ids, row_id)
        if position < len(self.ids) and self.ids[position] == row_id:
            del self.ids[position]
        return True

    def _index_changed(self, name: str, row_id: int) -> None:
        index = self._indexes.get(name)
        if index is not None:
            index.changed.add(row_id)
        dated = self._dated.get(name)
        if dated is not None:
            dated.changed.add(row_id)

    def _row_changed(self, row_id: int) -> None:
        for index in self._indexes.values():
            index.changed.add(row_id)
        for dated in self._dated.values():
            dated.changed.add(row_id)

    def _date_of(self, name: str, row_id: int) -> datetime | None:
        row = self.rows.get(row_id)
        raw = None if row is None else row.get(name)
        value = None if isinstance(raw, list) else _row_scalar("date", raw, self.tz)
        return value if isinstance(value, datetime) else None

    def _date_index(self, name: str) -> _DateIndex:
        """The ordered index of a date field, read from the rows on first use."""
        dated = self._dated.get(name)
        if dated is None:
            ordered = [
                (value, row_id)
                for row_id in self.ids
                if (value := self._date_of(name, row_id)) is not None
            ]
            ordered.sort()
            dated = self._dated[name] = _DateIndex(ordered)
        return dated

    def _dated_ids(self, terms: list[FilterTerm]) -> list[int] | None:
        """The ids (ascending) a `>`/`>=` term on a dated field allows, within the id bounds,
        a superset the terms still check; None without such a term, or when it allows over
        `RANGE_SHARE` of the rows (the scan in id order, which a page can stop early, is then
        cheaper)."""
        for term in terms:
            if (
                term.field not in DATED_FIELDS
                or term.negate
                or term.kind != "date"
                or term.op not in ("gt", "ge")
                or len(term.values) != 1
                or not isinstance(term.values[0], datetime)
            ):
                continue
            name = term.field
            found = self._date_index(name).after(
                term.values[0], term.op == "ge", functools.partial(self._date_of, name)
            )
            if len(found) > RANGE_SHARE * len(self.ids):
                return None
            low, high = _window(found, [t for t in terms if _is_id_bound(t)])
            return found[low:high]
        return None

    def _index(self, name: str) -> _Index:
        """The index of one field, read from the rows on first use; rows changed since the
        last read are placed again first."""
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = _Index.build(self.rows, self.ids, name)
        elif index.changed:
            index.place_changed(self.rows, name)
        return index

    def _indexed_ids(self, terms: list[FilterTerm]) -> list[int] | None:
        """The ids (ascending) an `=`/`@` term on an indexed field can match, a superset that
        the terms still check; None when no term can use an index."""
        for term in terms:
            if term.field not in INDEXED_FIELDS or term.negate or term.kind != "num":
                continue
            if term.op not in ("eq", "in") or not term.values:
                continue
            digits = {_digits_of(v) for v in term.values}
            if None in digits:
                continue
            index = self._index(term.field)
            found: set[int] = set(index.others)
            for text in digits:
                found.update(index.buckets.get(str(text), ()))
            return sorted(found)
        return None

    def scalar_fields(self) -> list[str]:
        """Standard non-multifield column names in catalogue order."""
        return [
            f.name
            for f in self.fields.values()
            if f.type != "crm_multifield" and f.name not in ("CONTACT_IDS", "COMPANY_IDS", "PHOTO")
        ]

    def columns(self) -> dict[str, ColumnInfo]:
        """Filterable/sortable columns including user fields."""
        out = {
            name: ColumnInfo(column_kind(spec.type), spec.type)
            for name, spec in self.fields.items()
        }
        for name, uf in self._user_fields().items():
            out[name] = ColumnInfo(
                column_kind(str(uf["USER_TYPE_ID"])),
                str(uf["USER_TYPE_ID"]),
                uf.get("MULTIPLE") == "Y",
            )
        return out

    # -- output

    def render(
        self, row: Mapping[str, Any], *, for_list: bool, select: list[str] | None = None
    ) -> dict[str, Any]:
        """Render a row as get (all fields, "" for unset UF) or list (selected, null UF)."""
        names = select if select is not None else self._get_fields()
        out: dict[str, Any] = {}
        ufs = self._user_fields()
        for name in names:
            if name in MULTIFIELD_TYPES:
                items = row.get(name)
                if items:
                    out[name] = [dict(item) for item in items]
            elif name in ufs:
                value = row.get(name)
                if value is None:
                    out[name] = None if for_list else ""
                else:
                    out[name] = list(value) if isinstance(value, list) else value
            else:
                out[name] = row.get(name)
        return out

    def _get_fields(self) -> list[str]:
        return [*self.scalar_fields(), *multifield_types_in(self.fields), *self._user_fields()]

    def resolve_select(self, select: list[str]) -> list[str]:
        """Expand `*`, `UF_*` and named fields into an ordered column list (ID always)."""
        wanted = [str(s).upper() for s in select if isinstance(s, str | int)]
        scalars = self.scalar_fields()
        ufs = list(self._user_fields())
        if not wanted:
            wanted = ["*", "UF_*"] if self.default_select_uf else ["*"]
        chosen: set[str] = {"ID"}
        if "*" in wanted:
            chosen.update(scalars)
        if "UF_*" in wanted:
            chosen.update(ufs)
        for name in wanted:
            if name in self.fields or name in ufs:
                chosen.add(name)
        ordered = [n for n in scalars if n in chosen]
        ordered += [n for n in multifield_types_in(self.fields) if n in chosen]
        ordered += [n for n in ufs if n in chosen]
        return ordered

    # -- list

    def _sort_value(self, name: str, kind: str, row: Mapping[str, Any]) -> tuple[int, Any]:
        raw = row.get(name)
        if self._sort_key_for is not None:
            special = self._sort_key_for(name, raw)
            if special is not None:
                return (1, special)
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        value = _row_scalar(kind, raw, self.tz)
        return (0, 0) if value is None else (1, value)

    def _row_sort_key(self, name: str, kind: str) -> Callable[[int], tuple[int, Any]]:
        def key(row_id: int) -> tuple[int, Any]:
            return self._sort_value(name, kind, self.rows[row_id])

        return key

    def query(self, q: ListQuery) -> ListPage:
        """Filter, order and page rows as crm.*.list does."""
        self.queries += 1
        columns = self.columns()
        terms = compile_filter(q.filter, columns, self.tz)
        order: list[tuple[str, bool]] = []
        for name, direction in q.order.items():
            upper = str(name).upper()
            if upper in columns and columns[upper].kind != "multi":
                order.append((upper, str(direction).upper() == "DESC"))
        select = self.resolve_select(q.select)
        fast = not order or (len(order) == 1 and order[0][0] == "ID")
        descending = bool(order and order[0][1])
        page_start = 0 if q.start < 0 else (q.start // PAGE_SIZE) * PAGE_SIZE

        def matches(row: Mapping[str, Any]) -> bool:
            # A plain loop: all() over a generator costs a frame for each of 20,000 rows.
            for check in checks:  # noqa: SIM110
                if not check(row):
                    return False
            return True

        if fast:
            listed = _listed_ids(terms)
            candidates: Iterator[int]
            if listed is not None:
                # `@ID`/`=ID`: the primary key finds the rows without a scan, as a database's
                # does; any ID bounds stay terms, checked on those rows.
                known = sorted(i for i in listed if i in self.rows)
                candidates = reversed(known) if descending else iter(known)
            elif (indexed := self._indexed_ids(terms)) is not None:
                # Any ID bounds stay terms, checked on the rows the index found.
                candidates = reversed(indexed) if descending else iter(indexed)
            elif (ranged := self._ranged_ids(terms, descending)) is not None:
                # Bounds on an indexed field (a team read in slices of responsibles): the
                # ids of the index's buckets in range, merged in id order, cut to the id window.
                candidates = ranged
                terms = [t for t in terms if not _is_id_bound(t)]
            elif (dated := self._dated_ids(terms)) is not None:
                # What changed since a moment (the catch-up poll): the date index's ids in the
                # id window; every term is still checked on those rows.
                candidates = reversed(dated) if descending else iter(dated)
            else:
                candidates = self._ids_in_id_range(terms, descending)
                # The id range is already the window, as a primary-key index gives it.
                terms = [t for t in terms if not _is_id_bound(t)]
            checks = [term_check(t, self.tz) for t in terms]
            if q.start < 0:
                items = []
                for row_id in candidates:
                    row = self.rows[row_id]
                    if matches(row):
                        items.append(self.render(row, for_list=True, select=select))
                        if len(items) == PAGE_SIZE:
                            break
                return ListPage(items, 0, None)
            if terms:
                matched_ids = [row_id for row_id in candidates if matches(self.rows[row_id])]
            else:
                matched_ids = list(candidates)
        else:
            checks = [term_check(t, self.tz) for t in terms]
            indexed = self._indexed_ids(terms)
            scanned = self.ids if indexed is None else indexed
            matched_ids = [row_id for row_id in scanned if matches(self.rows[row_id])]
            matched_ids.sort()
            for name, desc in reversed(order):
                matched_ids.sort(key=self._row_sort_key(name, columns[name].kind), reverse=desc)
            if q.start < 0:
                matched_ids = matched_ids[:PAGE_SIZE]
                return ListPage(
                    [self.render(self.rows[r], for_list=True, select=select) for r in matched_ids],
                    0,
                    None,
                )
        total = len(matched_ids)
        self.rows_counted += total
        page_ids = matched_ids[page_start : page_start + PAGE_SIZE]
        items = [self.render(self.rows[r], for_list=True, select=select) for r in page_ids]
        next_start = page_start + PAGE_SIZE if page_start + PAGE_SIZE < total else None
        return ListPage(items, total, next_start)

    def _ranged_ids(self, terms: list[FilterTerm], descending: bool) -> Iterator[int] | None:
        """The ids (in id order) that `>`/`>=`/`<`/`<=` bounds on an indexed field and the id
        bounds allow, a superset the other terms still check. None without such bounds, or
        when the range holds over `RANGE_SHARE` of the rows: there the scan in id order,
        which a page can stop early, costs less than merging that many buckets."""
        bounds = [
            term
            for term in terms
            if term.field in INDEXED_FIELDS
            and not term.negate
            and term.kind == "num"
            and term.op in ("gt", "ge", "lt", "le")
            and len(term.values) == 1
            and isinstance(term.values[0], int | float)
        ]
        if not bounds:
            return None
        index = self._index(bounds[0].field)
        first, last = _window(index.values, [t for t in bounds if t.field == bounds[0].field])
        merged = index.merged.get((first, last))
        if merged is None:
            lists = [index.buckets[text] for text in index.texts[first:last]]
            lists.append(index.others)
            if len(index.merged) >= ANSWERS_KEPT:
                index.merged.clear()
            merged = index.merged[first, last] = list(heapq.merge(*lists))
        if len(merged) > RANGE_SHARE * len(self.ids):
            return None
        low, high = _window(merged, [t for t in terms if _is_id_bound(t)])
        # Read lazily: a page stops at its 50th match. The list is never changed (a row that
        # changes bucket makes the index merge anew).
        positions = range(high - 1, low - 1, -1) if descending else range(low, high)
        return (merged[position] for position in positions)

    def _ids_in_id_range(self, terms: list[FilterTerm], descending: bool) -> Iterator[int]:
        low, high = _window(self.ids, [t for t in terms if _is_id_bound(t)])
        # Copy the slice so a concurrent insert cannot disturb iteration.
        window = self.ids[low:high] if low < high else []
        return reversed(window) if descending else iter(window)


def _window(ordered: list[int], bounds: list[FilterTerm]) -> tuple[int, int]:
    """The slice of an ascending list that `>`/`>=`/`<`/`<=` bounds allow."""
    low, high = 0, len(ordered)
    for term in bounds:
        bound = term.values[0]
        if term.op == "gt":
            low = max(low, bisect.bisect_right(ordered, bound))
        elif term.op == "ge":
            low = max(low, bisect.bisect_left(ordered, bound))
        elif term.op == "lt":
            high = min(high, bisect.bisect_left(ordered, bound))
        elif term.op == "le":
            high = min(high, bisect.bisect_right(ordered, bound))
    return low, high


def _listed_ids(terms: list[FilterTerm]) -> set[int] | None:
    """The ids an `@ID`/`=ID` term allows (None: no such term); several intersect."""
    allowed: set[int] | None = None
    for term in terms:
        if term.field != "ID" or term.negate or term.op not in ("in", "eq"):
            continue
        ids = {int(v) for v in term.values if isinstance(v, int | float) and v == int(v)}
        allowed = ids if allowed is None else allowed & ids
    return allowed


def _is_id_bound(term: FilterTerm) -> bool:
    """An `>ID`/`>=ID`/`<ID`/`<=ID` term, which the sorted id list answers by bisection."""
    return (
        term.field == "ID"
        and not term.negate
        and term.op in ("gt", "ge", "lt", "le")
        and term.values[0] is not None
    )


def multifield_types_in(fields: Mapping[str, FieldSpec]) -> list[str]:
    """Multifield type names the entity supports, in canonical order."""
    return [name for name in MULTIFIELD_TYPES if name in fields]


# ---------------------------------------------------------------------------- multifields


def merge_multifields(
    existing: list[dict[str, Any]] | None,
    incoming: Any,
    type_id: str,
    sequence: IdSequence,
) -> list[dict[str, Any]]:
    """Merge incoming multifield items into the existing list (§4 rules)."""
    current = [dict(item) for item in existing or []]
    if isinstance(incoming, dict):
        incoming = list(incoming.values())
    if not isinstance(incoming, list):
        return current
    default_type = DEFAULT_VALUE_TYPE.get(type_id, "WORK")
    for item in incoming:
        if not isinstance(item, dict):
            continue
        item_id = php_int(item.get("ID", 0))
        raw_value = item.get("VALUE")
        value = "" if raw_value is None or isinstance(raw_value, list | dict) else str(raw_value)
        value = value.strip()
        value_type = str(item.get("VALUE_TYPE") or "").strip().upper() or None
        delete = str(item.get("DELETE", "")).upper() == "Y"
        target = (
            next((m for m in current if m["ID"] == str(item_id)), None) if item_id > 0 else None
        )
        if target is not None:
            if delete or not value:
                current.remove(target)
            else:
                target["VALUE"] = value
                if value_type:
                    target["VALUE_TYPE"] = value_type
            continue
        if delete or not value:
            continue
        value_type = value_type or default_type
        if any(m["VALUE"] == value and m["VALUE_TYPE"] == value_type for m in current):
            continue
        current.append(
            {
                "ID": str(sequence.take()),
                "VALUE_TYPE": value_type,
                "VALUE": value,
                "TYPE_ID": type_id,
            }
        )
    return current


# ---------------------------------------------------------------------------- scalar writes

_UNSET = object()


def normalize_scalar(spec: FieldSpec, value: Any, tz: timezone) -> Any:
    """Cast an incoming value to its stored form; returns _UNSET when it must be dropped."""
    t = spec.type
    if isinstance(value, list | dict) and not spec.multiple:
        if isinstance(value, list) and value and not isinstance(value[0], list | dict):
            value = value[0]
        else:
            return _UNSET
    if t in DATE_TYPES:
        if value is None or value == "":
            return ""
        moment = parse_datetime(value, tz)
        if moment is None:
            return _UNSET
        if t == "date":
            moment = datetime(moment.year, moment.month, moment.day, tzinfo=tz)
        return format_datetime(moment, tz)
    if t == "double":
        return format_money(php_float(value))
    if t in (
        "integer",
        "int",
        "user",
        "crm_company",
        "crm_contact",
        "crm_lead",
        "employee",
        "product_section",
        "crm_category",
    ):
        if value is None or value == "":
            return None
        number = php_int(value)
        if t in ("crm_company", "crm_contact", "crm_lead") and number <= 0:
            return None
        return str(number)
    if t == "char":
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "Y" if value else "N"
        text = str(value).upper()
        return "Y" if text in ("Y", "1", "TRUE") else "N"
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if t == "crm_currency":
        return text.upper() or None
    return text


def is_unset(value: Any) -> bool:
    """True when normalize_scalar asked to drop the value."""
    return value is _UNSET


def normalize_user_field(uf: Mapping[str, Any], value: Any, tz: timezone) -> Any:
    """Cast a UF value to its stored form; None means unset."""
    multiple = uf.get("MULTIPLE") == "Y"
    if multiple:
        values = value if isinstance(value, list) else [value]
        if isinstance(value, dict):
            values = list(value.values())
        cast = [_cast_uf(uf, v, tz) for v in values]
        kept = [v for v in cast if v is not None]
        return kept or None
    if isinstance(value, list):
        value = value[0] if value else None
    return _cast_uf(uf, value, tz)


def _cast_uf(uf: Mapping[str, Any], value: Any, tz: timezone) -> Any:
    type_id = uf.get("USER_TYPE_ID")
    if type_id == "boolean":
        if value is None or value == "":
            return None
        return _bool_value(value) if not isinstance(value, int | float) else bool(value)
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    if type_id in ("integer", "employee", "enumeration"):
        return php_int(value)
    if type_id == "double":
        return php_float(value)
    if type_id in ("date", "datetime"):
        moment = parse_datetime(value, tz)
        if moment is None:
            return None
        if type_id == "date":
            return moment.date().isoformat()
        return format_datetime(moment, tz)
    return str(value)


def uf_value_present(value: Any) -> bool:
    """Whether a stored UF value counts as filled for MANDATORY checks."""
    if value is None:
        return False
    if isinstance(value, list):
        return bool(value)
    if isinstance(value, str):
        return bool(value.strip())
    return True


# ---------------------------------------------------------------------------- dictionaries

DEFAULT_LEAD_STAGES: list[tuple[str, str, int, str]] = [
    ("NEW", "Unassigned", 10, "#39A8EF"),
    ("IN_PROCESS", "In progress", 20, "#2FC6F6"),
    ("PROCESSED", "Processed", 30, "#55D0E0"),
    ("CONVERTED", "Good lead", 40, "#7BD500"),
    ("JUNK", "Junk lead", 50, "#FF5752"),
]
DEFAULT_SOURCES: list[tuple[str, str]] = [
    ("CALL", "Call"),
    ("EMAIL", "E-Mail"),
    ("WEB", "Website"),
    ("ADVERTISING", "Advertising"),
    ("PARTNER", "Existing client"),
    ("RECOMMENDATION", "By recommendation"),
    ("TRADE_SHOW", "Show/Exhibition"),
    ("WEBFORM", "CRM form"),
    ("CALLBACK", "Callback"),
    ("RC_GENERATOR", "Sales boost"),
    ("STORE", "Online Store"),
    ("OTHER", "Other"),
]
DEFAULT_HONORIFICS: list[tuple[str, str]] = [
    ("HNR_EN_1", "Mr."),
    ("HNR_EN_2", "Mrs."),
    ("HNR_EN_3", "Ms."),
    ("HNR_EN_4", "Dr."),
]
DEFAULT_CONTACT_TYPES: list[tuple[str, str]] = [
    ("CLIENT", "Clients"),
    ("SUPPLIER", "Suppliers"),
    ("PARTNER", "Partners"),
    ("OTHER", "Other"),
]
DEFAULT_DEAL_STAGES: list[tuple[str, str, int, str]] = [
    ("NEW", "New", 10, "#39A8EF"),
    ("PREPARATION", "Document preparation", 20, "#2FC6F6"),
    ("EXECUTING", "In progress", 40, "#47E4C2"),
    ("WON", "Deal successful", 60, "#7BD500"),
    ("LOSE", "Deal lost", 70, "#FF5752"),
]
DEFAULT_PRODUCTS: list[tuple[str, float, str]] = [
    ("Consultation, 1 hour", 3000.0, "RUB"),
    ("Installation service", 15000.0, "RUB"),
    ("Annual support plan", 48000.0, "RUB"),
    ("Sensor kit basic", 12500.0, "RUB"),
    ("Sensor kit pro", 27900.0, "RUB"),
    ("Delivery within city", 900.0, "RUB"),
]


class StatusDictionary:
    """The crm_status table: stages, sources, honorifics and other dictionaries."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.sequence = IdSequence(1)

    def add(
        self,
        entity_id: str,
        status_id: str,
        name: str,
        sort: int,
        *,
        system: bool = False,
        color: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) one dictionary entry."""
        self.rows = [
            r
            for r in self.rows
            if not (r["ENTITY_ID"] == entity_id and r["STATUS_ID"] == status_id)
        ]
        row: dict[str, Any] = {
            "ID": str(self.sequence.take()),
            "ENTITY_ID": entity_id,
            "STATUS_ID": status_id,
            "NAME": name,
            "NAME_INIT": name if system else "",
            "SORT": str(sort),
            "SYSTEM": "Y" if system else "N",
            "CATEGORY_ID": None,
            "COLOR": color,
            "SEMANTICS": None,
        }
        self.rows.append(row)
        return row

    def entries(self, entity_id: str) -> list[dict[str, Any]]:
        """Entries of one dictionary sorted by SORT then ID."""
        items = [r for r in self.rows if r["ENTITY_ID"] == entity_id]
        items.sort(key=lambda r: (int(r["SORT"]), int(r["ID"])))
        return items

    def find(self, entity_id: str, status_id: str) -> dict[str, Any] | None:
        """One entry or None."""
        for row in self.rows:
            if row["ENTITY_ID"] == entity_id and row["STATUS_ID"] == status_id:
                return row
        return None

    def semantics(self, entity_id: str, status_id: str) -> str:
        """P/S/F for a stage: before the success stage P, success S, after it F."""
        success_id = "CONVERTED" if entity_id == "STATUS" else "WON"
        entries = self.entries(entity_id)
        success = next((r for r in entries if r["STATUS_ID"] == success_id), None)
        own = next((r for r in entries if r["STATUS_ID"] == status_id), None)
        if own is None or success is None:
            return "P"
        if status_id == success_id:
            return "S"
        return "P" if int(own["SORT"]) < int(success["SORT"]) else "F"

    def render(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Row as crm.status.list returns it (EXTRA for stage dictionaries)."""
        out = dict(row)
        if row["ENTITY_ID"] in ("STATUS", "DEAL_STAGE"):
            semantic = self.semantics(row["ENTITY_ID"], row["STATUS_ID"])
            out["SEMANTICS"] = None if semantic == "P" else semantic
            out["EXTRA"] = {
                "SEMANTICS": {"P": "process", "S": "success", "F": "failure"}[semantic],
                "COLOR": row["COLOR"],
            }
        return out


def seed_default_dictionaries(statuses: StatusDictionary) -> None:
    """Lead stages, sources, honorifics, contact types and deal stages of a fresh portal."""
    for status_id, name, sort, color in DEFAULT_LEAD_STAGES:
        statuses.add(
            "STATUS",
            status_id,
            name,
            sort,
            system=status_id in ("NEW", "CONVERTED", "JUNK"),
            color=color,
        )
    for index, (status_id, name) in enumerate(DEFAULT_SOURCES):
        statuses.add("SOURCE", status_id, name, (index + 1) * 10, system=True)
    for index, (status_id, name) in enumerate(DEFAULT_HONORIFICS):
        statuses.add("HONORIFIC", status_id, name, (index + 1) * 100, system=True)
    for index, (status_id, name) in enumerate(DEFAULT_CONTACT_TYPES):
        statuses.add("CONTACT_TYPE", status_id, name, (index + 1) * 10, system=True)
    for status_id, name, sort, color in DEFAULT_DEAL_STAGES:
        statuses.add(
            "DEAL_STAGE",
            status_id,
            name,
            sort,
            system=status_id in ("NEW", "WON", "LOSE"),
            color=color,
        )


def utc_offset(hours: float) -> timezone:
    """A fixed-offset zone for the portal."""
    return timezone(timedelta(hours=hours))


__all__ = [
    "CONTACT_FIELDS",
    "DEAL_FIELDS",
    "LEAD_FIELDS",
    "MULTIFIELD_TYPES",
    "PAGE_SIZE",
    "PRODUCT_FIELDS",
    "CrmError",
    "CrmTable",
    "FieldSpec",
    "IdSequence",
    "ListPage",
    "ListQuery",
    "StatusDictionary",
    "merge_multifields",
    "php_truthy",
]
