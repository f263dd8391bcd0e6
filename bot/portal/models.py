"""Typed shapes of what the portal sends and accepts.

The classic crm methods send numbers as strings (`"ID": "123"`, `"OPPORTUNITY": "15000.00"`),
`""` for empty dates, `null`/`""`/`[]` for "nothing". Read models parse those into
`int`/`Decimal`/`datetime | None` and keep every key they do not name (`extra="allow"`), so user
fields (`UF_CRM_*`) and fields added by newer portals survive a round trip. Python names are
snake_case; the portal's names are the aliases, and `model_dump(by_alias=True)` gives them back.
Input models (`LeadDraft`, `LeadChanges`, ...) send only what was set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_serializer,
    model_validator,
)

from bot.portal.coerce import yes_no

T = TypeVar("T")

__all__ = [
    "CardElement",
    "CardSection",
    "Contact",
    "ContactChanges",
    "ContactDraft",
    "CrmMode",
    "DuplicateMatches",
    "EnumItem",
    "EventHandler",
    "FieldDescriptor",
    "Lead",
    "LeadChanges",
    "LeadContactBinding",
    "LeadDraft",
    "MultiFieldChange",
    "MultiFieldValue",
    "Page",
    "PortalUser",
    "Product",
    "ProductRow",
    "ResponseTime",
    "Semantics",
    "Status",
    "UserField",
    "UserFieldChanges",
    "UserFieldDraft",
    "UserFieldEnumItem",
    "joined_name",
    "multifield_changes",
]


MAX_DIGITS = 18
"""An id or count the portal sends has fewer digits than this (its ids are 64-bit)."""


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {} or value is False


def _to_int(value: Any) -> Any:
    if _blank(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a whole number: {value!r}") from exc
        # "1e999999" would be a million-digit int: nothing the portal counts is above 10**18.
        if not number.is_finite() or number.adjusted() > MAX_DIGITS:
            raise ValueError(f"not a whole number: {value!r}")
        return int(number)
    return value


def _to_decimal(value: Any) -> Any:
    if _blank(value) and value is not False:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    return value


def _to_datetime(value: Any) -> Any:
    if _blank(value):
        return None
    return value


def _to_date(value: Any) -> Any:
    if _blank(value):
        return None
    if isinstance(value, str) and "T" in value:
        return datetime.fromisoformat(value).date()
    return value


def _to_bool(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().upper() in {"Y", "1", "TRUE"}
    if isinstance(value, int):
        return bool(value)
    return value


PortalInt = Annotated[int | None, BeforeValidator(_to_int)]
"""An id or count the portal may send as `"123"`, `123`, `""` or `null`."""
PortalDecimal = Annotated[
    Decimal | None,
    BeforeValidator(_to_decimal),
    PlainSerializer(lambda v: None if v is None else format(v, "f"), return_type=str | None),
]
"""A money or quantity value (`"15000.00"`, `1000`, `null`); dumped as an exact string."""
PortalDateTime = Annotated[datetime | None, BeforeValidator(_to_datetime)]
"""An ISO-8601 timestamp with offset, or `None` for the portal's `""`."""
PortalDate = Annotated[date | None, BeforeValidator(_to_date)]
"""A date (the portal may send it as a midnight timestamp), or `None` for `""`."""
YesNo = Annotated[
    bool | None,
    BeforeValidator(_to_bool),
    PlainSerializer(yes_no, return_type=str | None),
]
"""The portal's `"Y"`/`"N"` flags; sent back as `"Y"`/`"N"`."""
Flag = Annotated[bool | None, BeforeValidator(_to_bool)]
"""A flag the portal sends as `true`, `1` or `"Y"`; dumped as a JSON boolean."""


# Every portal model builds its validator when first used, not at import: a process
# uses a fraction of them (the catalogue, robots and the lead tab only in some setups), and
# each built one keeps its schema for the whole run.
class PortalModel(BaseModel):
    """Base of read models: lenient, keeps unknown keys, accepts portal or Python names."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    def extra_fields(self) -> dict[str, Any]:
        """The keys this model does not name, as the portal sent them."""
        return dict(self.model_extra or {})

    def to_portal(self) -> dict[str, Any]:
        """The portal's spelling of this object (aliases, only what is set)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class InputModel(BaseModel):
    """Base of write models: unknown keys (`UF_CRM_*`) pass through, unset keys are not sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    def to_portal(self) -> dict[str, Any]:
        """The `fields` object for the portal."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ResponseTime(PortalModel):
    """The `time` block of every successful answer."""

    start: float | None = None
    finish: float | None = None
    duration: float | None = None
    processing: float | None = None
    date_start: str | None = None
    date_finish: str | None = None
    operating_reset_at: float | None = None
    operating: float | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a classic list method: items, `total` (0 with start=-1), `next` offset."""

    items: list[T]
    total: int | None = None
    next: int | None = None


# --- multi-fields (PHONE, EMAIL, WEB, IM, LINK) --------------------------------------------


class MultiFieldValue(PortalModel):
    """One stored phone/e-mail/site/messenger value of a lead or contact."""

    id: PortalInt = Field(default=None, alias="ID")
    value: str = Field(default="", alias="VALUE")
    value_type: str | None = Field(default=None, alias="VALUE_TYPE")
    type_id: str | None = Field(default=None, alias="TYPE_ID")


class MultiFieldChange(BaseModel):
    """One edit of a multi-field, following the portal's merge rules.

    The portal merges the items it gets into the stored set; values not mentioned stay.
    Build changes with `add`, `change` and `delete`; never send the whole list hoping it
    replaces the stored one.
    """

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    value: str | None = None
    value_type: str | None = None
    remove: bool = False

    @classmethod
    def add(cls, value: str, value_type: str = "WORK") -> Self:
        """Add a new value (`{"VALUE", "VALUE_TYPE"}`)."""
        if not value.strip():
            raise ValueError("an empty value would be skipped by the portal")
        return cls(value=value, value_type=value_type)

    @classmethod
    def change(cls, value_id: int, value: str, value_type: str | None = None) -> Self:
        """Change the stored value `value_id` (`{"ID", "VALUE"[, "VALUE_TYPE"]}`)."""
        if not value.strip():
            raise ValueError("an empty value deletes the stored one; use delete()")
        return cls(id=value_id, value=value, value_type=value_type)

    @classmethod
    def delete(cls, value_id: int) -> Self:
        """Delete the stored value `value_id` (`{"ID", "DELETE": "Y"}`)."""
        return cls(id=value_id, remove=True)

    @model_validator(mode="before")
    @classmethod
    def _from_portal_item(cls, data: Any) -> Any:
        if isinstance(data, dict) and {"ID", "VALUE", "VALUE_TYPE", "DELETE"} & set(data):
            return {
                "id": _to_int(data.get("ID")),
                "value": data.get("VALUE"),
                "value_type": data.get("VALUE_TYPE"),
                "remove": str(data.get("DELETE", "")).upper() == "Y",
            }
        return data

    @model_serializer
    def _portal_item(self) -> dict[str, Any]:
        if self.remove:
            return {"ID": self.id, "DELETE": "Y"}
        item: dict[str, Any] = {}
        if self.id is not None:
            item["ID"] = self.id
        item["VALUE"] = self.value
        if self.value_type is not None:
            item["VALUE_TYPE"] = self.value_type
        return item


def joined_name(*parts: str | None) -> str:
    """A person's name parts joined with spaces, the empty ones left out."""
    return " ".join(p for p in parts if p)


def multifield_changes(
    stored: Iterable[MultiFieldValue], wanted: Sequence[tuple[str, str]]
) -> list[MultiFieldChange]:
    """Edits that turn `stored` into exactly `wanted` (`(value, value_type)` pairs).

    Values already stored are kept, missing ones added, extra ones deleted one by one,
    because the portal has no "replace all" for multi-fields.
    """
    remaining = list(wanted)
    changes: list[MultiFieldChange] = []
    for item in stored:
        key = (item.value, item.value_type or "WORK")
        if key in remaining:
            remaining.remove(key)
        elif item.id is not None:
            changes.append(MultiFieldChange.delete(item.id))
    changes.extend(MultiFieldChange.add(value, value_type) for value, value_type in remaining)
    return changes


MultiFieldList = Annotated[list[MultiFieldValue], BeforeValidator(lambda v: v or [])]
MultiFieldEdits = list[MultiFieldChange]


# --- field descriptors ---------------------------------------------------------------------


class EnumItem(PortalModel):
    """One option of an enumeration field."""

    id: PortalInt = Field(default=None, alias="ID")
    value: str = Field(default="", alias="VALUE")


class FieldDescriptor(PortalModel):
    """How the portal describes a field in `crm.*.fields`."""

    type: str
    is_required: bool = Field(default=False, alias="isRequired")
    is_read_only: bool = Field(default=False, alias="isReadOnly")
    is_immutable: bool = Field(default=False, alias="isImmutable")
    is_multiple: bool = Field(default=False, alias="isMultiple")
    is_dynamic: bool = Field(default=False, alias="isDynamic")
    is_deprecated: bool | None = Field(default=None, alias="isDeprecated")
    title: str = ""
    status_type: str | None = Field(default=None, alias="statusType")
    items: list[EnumItem] | None = None
    # PHP sends an empty settings array as `[]`.
    settings: Annotated[dict[str, Any] | None, BeforeValidator(lambda v: v or None)] = None
    list_label: str | None = Field(default=None, alias="listLabel")
    form_label: str | None = Field(default=None, alias="formLabel")
    filter_label: str | None = Field(default=None, alias="filterLabel")

    @property
    def label(self) -> str:
        """The human caption: user fields keep their code in `title` and the caption in labels."""
        return self.form_label or self.list_label or self.filter_label or self.title


# --- leads ---------------------------------------------------------------------------------


class _PersonFields(PortalModel):
    id: PortalInt = Field(default=None, alias="ID")
    honorific: str | None = Field(default=None, alias="HONORIFIC")
    name: str | None = Field(default=None, alias="NAME")
    second_name: str | None = Field(default=None, alias="SECOND_NAME")
    last_name: str | None = Field(default=None, alias="LAST_NAME")
    birthdate: PortalDate = Field(default=None, alias="BIRTHDATE")
    post: str | None = Field(default=None, alias="POST")
    source_id: str | None = Field(default=None, alias="SOURCE_ID")
    source_description: str | None = Field(default=None, alias="SOURCE_DESCRIPTION")
    comments: str | None = Field(default=None, alias="COMMENTS")
    opened: YesNo = Field(default=None, alias="OPENED")
    assigned_by_id: PortalInt = Field(default=None, alias="ASSIGNED_BY_ID")
    created_by_id: PortalInt = Field(default=None, alias="CREATED_BY_ID")
    modify_by_id: PortalInt = Field(default=None, alias="MODIFY_BY_ID")
    date_create: PortalDateTime = Field(default=None, alias="DATE_CREATE")
    date_modify: PortalDateTime = Field(default=None, alias="DATE_MODIFY")
    company_id: PortalInt = Field(default=None, alias="COMPANY_ID")
    has_phone: YesNo = Field(default=None, alias="HAS_PHONE")
    has_email: YesNo = Field(default=None, alias="HAS_EMAIL")
    has_imol: YesNo = Field(default=None, alias="HAS_IMOL")
    originator_id: str | None = Field(default=None, alias="ORIGINATOR_ID")
    origin_id: str | None = Field(default=None, alias="ORIGIN_ID")
    utm_source: str | None = Field(default=None, alias="UTM_SOURCE")
    utm_medium: str | None = Field(default=None, alias="UTM_MEDIUM")
    utm_campaign: str | None = Field(default=None, alias="UTM_CAMPAIGN")
    utm_content: str | None = Field(default=None, alias="UTM_CONTENT")
    utm_term: str | None = Field(default=None, alias="UTM_TERM")
    last_activity_time: PortalDateTime = Field(default=None, alias="LAST_ACTIVITY_TIME")
    last_activity_by: PortalInt = Field(default=None, alias="LAST_ACTIVITY_BY")
    phone: MultiFieldList = Field(default_factory=list, alias="PHONE")
    email: MultiFieldList = Field(default_factory=list, alias="EMAIL")
    web: MultiFieldList = Field(default_factory=list, alias="WEB")
    im: MultiFieldList = Field(default_factory=list, alias="IM")

    @property
    def user_fields(self) -> dict[str, Any]:
        """The `UF_*` values, as the portal sent them."""
        return {k: v for k, v in (self.model_extra or {}).items() if k.startswith("UF_")}

    @property
    def full_name(self) -> str:
        """Name parts joined with spaces (empty when none is set)."""
        return joined_name(self.name, self.second_name, self.last_name)


class Lead(_PersonFields):
    """A lead as `crm.lead.get` / `crm.lead.list` return it."""

    title: str | None = Field(default=None, alias="TITLE")
    company_title: str | None = Field(default=None, alias="COMPANY_TITLE")
    status_id: str | None = Field(default=None, alias="STATUS_ID")
    status_description: str | None = Field(default=None, alias="STATUS_DESCRIPTION")
    status_semantic_id: str | None = Field(default=None, alias="STATUS_SEMANTIC_ID")
    address: str | None = Field(default=None, alias="ADDRESS")
    address_2: str | None = Field(default=None, alias="ADDRESS_2")
    address_city: str | None = Field(default=None, alias="ADDRESS_CITY")
    address_postal_code: str | None = Field(default=None, alias="ADDRESS_POSTAL_CODE")
    address_region: str | None = Field(default=None, alias="ADDRESS_REGION")
    address_province: str | None = Field(default=None, alias="ADDRESS_PROVINCE")
    address_country: str | None = Field(default=None, alias="ADDRESS_COUNTRY")
    address_country_code: str | None = Field(default=None, alias="ADDRESS_COUNTRY_CODE")
    address_loc_addr_id: PortalInt = Field(default=None, alias="ADDRESS_LOC_ADDR_ID")
    currency_id: str | None = Field(default=None, alias="CURRENCY_ID")
    opportunity: PortalDecimal = Field(default=None, alias="OPPORTUNITY")
    is_manual_opportunity: YesNo = Field(default=None, alias="IS_MANUAL_OPPORTUNITY")
    moved_by_id: PortalInt = Field(default=None, alias="MOVED_BY_ID")
    moved_time: PortalDateTime = Field(default=None, alias="MOVED_TIME")
    date_closed: PortalDateTime = Field(default=None, alias="DATE_CLOSED")
    contact_id: PortalInt = Field(default=None, alias="CONTACT_ID")
    is_return_customer: YesNo = Field(default=None, alias="IS_RETURN_CUSTOMER")
    link: MultiFieldList = Field(default_factory=list, alias="LINK")


class _LeadInput(InputModel):
    title: str | None = Field(default=None, alias="TITLE")
    honorific: str | None = Field(default=None, alias="HONORIFIC")
    name: str | None = Field(default=None, alias="NAME")
    second_name: str | None = Field(default=None, alias="SECOND_NAME")
    last_name: str | None = Field(default=None, alias="LAST_NAME")
    birthdate: date | None = Field(default=None, alias="BIRTHDATE")
    company_title: str | None = Field(default=None, alias="COMPANY_TITLE")
    source_id: str | None = Field(default=None, alias="SOURCE_ID")
    source_description: str | None = Field(default=None, alias="SOURCE_DESCRIPTION")
    status_id: str | None = Field(default=None, alias="STATUS_ID")
    status_description: str | None = Field(default=None, alias="STATUS_DESCRIPTION")
    post: str | None = Field(default=None, alias="POST")
    address: str | None = Field(default=None, alias="ADDRESS")
    address_city: str | None = Field(default=None, alias="ADDRESS_CITY")
    currency_id: str | None = Field(default=None, alias="CURRENCY_ID")
    opportunity: PortalDecimal = Field(default=None, alias="OPPORTUNITY")
    is_manual_opportunity: YesNo = Field(default=None, alias="IS_MANUAL_OPPORTUNITY")
    opened: YesNo = Field(default=None, alias="OPENED")
    comments: str | None = Field(default=None, alias="COMMENTS")
    assigned_by_id: int | None = Field(default=None, alias="ASSIGNED_BY_ID")
    company_id: int | None = Field(default=None, alias="COMPANY_ID")
    contact_id: int | None = Field(default=None, alias="CONTACT_ID")
    contact_ids: list[int] | None = Field(default=None, alias="CONTACT_IDS")
    utm_source: str | None = Field(default=None, alias="UTM_SOURCE")
    utm_medium: str | None = Field(default=None, alias="UTM_MEDIUM")
    utm_campaign: str | None = Field(default=None, alias="UTM_CAMPAIGN")
    utm_content: str | None = Field(default=None, alias="UTM_CONTENT")
    utm_term: str | None = Field(default=None, alias="UTM_TERM")
    phone: MultiFieldEdits | None = Field(default=None, alias="PHONE")
    email: MultiFieldEdits | None = Field(default=None, alias="EMAIL")
    web: MultiFieldEdits | None = Field(default=None, alias="WEB")
    im: MultiFieldEdits | None = Field(default=None, alias="IM")


class LeadDraft(_LeadInput):
    """Fields of a new lead (`crm.lead.add`). `UF_CRM_*` values go as extra keyword arguments."""

    originator_id: str | None = Field(default=None, alias="ORIGINATOR_ID")
    origin_id: str | None = Field(default=None, alias="ORIGIN_ID")

    @model_validator(mode="after")
    def _only_additions(self) -> Self:
        for edits in (self.phone, self.email, self.web, self.im):
            if edits and any(edit.id is not None or edit.remove for edit in edits):
                raise ValueError("a new lead can only get new multi-field values")
        return self


class LeadChanges(_LeadInput):
    """Fields to change on an existing lead (`crm.lead.update`); unset fields stay as they are."""


# --- contacts ------------------------------------------------------------------------------


class Contact(_PersonFields):
    """A contact as `crm.contact.get` / `crm.contact.list` return it."""

    type_id: str | None = Field(default=None, alias="TYPE_ID")
    export: YesNo = Field(default=None, alias="EXPORT")
    lead_id: PortalInt = Field(default=None, alias="LEAD_ID")


class _ContactInput(InputModel):
    honorific: str | None = Field(default=None, alias="HONORIFIC")
    name: str | None = Field(default=None, alias="NAME")
    second_name: str | None = Field(default=None, alias="SECOND_NAME")
    last_name: str | None = Field(default=None, alias="LAST_NAME")
    birthdate: date | None = Field(default=None, alias="BIRTHDATE")
    type_id: str | None = Field(default=None, alias="TYPE_ID")
    source_id: str | None = Field(default=None, alias="SOURCE_ID")
    post: str | None = Field(default=None, alias="POST")
    comments: str | None = Field(default=None, alias="COMMENTS")
    opened: YesNo = Field(default=None, alias="OPENED")
    export: YesNo = Field(default=None, alias="EXPORT")
    assigned_by_id: int | None = Field(default=None, alias="ASSIGNED_BY_ID")
    company_id: int | None = Field(default=None, alias="COMPANY_ID")
    company_ids: list[int] | None = Field(default=None, alias="COMPANY_IDS")
    lead_id: int | None = Field(default=None, alias="LEAD_ID")
    phone: MultiFieldEdits | None = Field(default=None, alias="PHONE")
    email: MultiFieldEdits | None = Field(default=None, alias="EMAIL")
    web: MultiFieldEdits | None = Field(default=None, alias="WEB")
    im: MultiFieldEdits | None = Field(default=None, alias="IM")


class ContactDraft(_ContactInput):
    """Fields of a new contact (`crm.contact.add`), with the key that finds it again."""

    originator_id: str | None = Field(default=None, alias="ORIGINATOR_ID")
    origin_id: str | None = Field(default=None, alias="ORIGIN_ID")


class ContactChanges(_ContactInput):
    """Fields to change on a contact (`crm.contact.update`)."""


# --- lead <-> contact bindings ---------------------------------------------------------------


class LeadContactBinding(PortalModel):
    """One contact bound to a lead (`crm.lead.contact.*`)."""

    contact_id: int = Field(alias="CONTACT_ID")
    sort: PortalInt = Field(default=None, alias="SORT")
    role_id: PortalInt = Field(default=None, alias="ROLE_ID")
    is_primary: YesNo = Field(default=None, alias="IS_PRIMARY")

    def to_portal(self) -> dict[str, Any]:
        """The binding as the write methods take it (no ROLE_ID: the portal ignores it)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"role_id"})


# --- product rows and products ---------------------------------------------------------------


class ProductRow(PortalModel):
    """A product row of a lead: read from `productrows.get`, written with `productrows.set`."""

    id: PortalInt = Field(default=None, alias="ID")
    owner_id: PortalInt = Field(default=None, alias="OWNER_ID")
    owner_type: str | None = Field(default=None, alias="OWNER_TYPE")
    product_id: PortalInt = Field(default=None, alias="PRODUCT_ID")
    product_name: str | None = Field(default=None, alias="PRODUCT_NAME")
    price: PortalDecimal = Field(default=None, alias="PRICE")
    price_exclusive: PortalDecimal = Field(default=None, alias="PRICE_EXCLUSIVE")
    price_netto: PortalDecimal = Field(default=None, alias="PRICE_NETTO")
    price_brutto: PortalDecimal = Field(default=None, alias="PRICE_BRUTTO")
    price_account: PortalDecimal = Field(default=None, alias="PRICE_ACCOUNT")
    quantity: PortalDecimal = Field(default=None, alias="QUANTITY")
    discount_type_id: PortalInt = Field(default=None, alias="DISCOUNT_TYPE_ID")
    discount_rate: PortalDecimal = Field(default=None, alias="DISCOUNT_RATE")
    discount_sum: PortalDecimal = Field(default=None, alias="DISCOUNT_SUM")
    tax_rate: PortalDecimal = Field(default=None, alias="TAX_RATE")
    tax_included: YesNo = Field(default=None, alias="TAX_INCLUDED")
    measure_code: PortalInt = Field(default=None, alias="MEASURE_CODE")
    measure_name: str | None = Field(default=None, alias="MEASURE_NAME")
    sort: PortalInt = Field(default=None, alias="SORT")

    def to_portal(self) -> dict[str, Any]:
        """The row as `productrows.set` takes it (owner keys dropped: the portal ignores them)."""
        return self.model_dump(
            mode="json",
            by_alias=True,
            exclude_unset=True,
            exclude={"id", "owner_id", "owner_type"},
        )


class Product(PortalModel):
    """A catalog product (`crm.product.list`)."""

    id: PortalInt = Field(default=None, alias="ID")
    name: str | None = Field(default=None, alias="NAME")
    price: PortalDecimal = Field(default=None, alias="PRICE")
    currency_id: str | None = Field(default=None, alias="CURRENCY_ID")
    active: YesNo = Field(default=None, alias="ACTIVE")
    section_id: PortalInt = Field(default=None, alias="SECTION_ID")
    measure: PortalInt = Field(default=None, alias="MEASURE")
    sort: PortalInt = Field(default=None, alias="SORT")


# --- dictionaries ----------------------------------------------------------------------------


class Semantics(StrEnum):
    """Where a stage stands: still in progress, won, or lost."""

    PROCESS = "process"
    SUCCESS = "success"
    FAILURE = "failure"


class Status(PortalModel):
    """One entry of a CRM dictionary (`crm.status.list`): a lead stage, a source, ..."""

    id: PortalInt = Field(default=None, alias="ID")
    entity_id: str = Field(default="", alias="ENTITY_ID")
    status_id: str = Field(alias="STATUS_ID")
    name: str = Field(default="", alias="NAME")
    name_init: str | None = Field(default=None, alias="NAME_INIT")
    sort: PortalInt = Field(default=None, alias="SORT")
    system: YesNo = Field(default=None, alias="SYSTEM")
    category_id: PortalInt = Field(default=None, alias="CATEGORY_ID")
    color: str | None = Field(default=None, alias="COLOR")
    semantic_code: str | None = Field(default=None, alias="SEMANTICS")
    extra: dict[str, Any] | None = Field(default=None, alias="EXTRA")

    @property
    def semantics(self) -> Semantics:
        """Process, success or failure (`SEMANTICS` is null/S/F; `EXTRA` spells it out)."""
        code = (self.semantic_code or "").upper()
        if code == "S":
            return Semantics.SUCCESS
        if code == "F":
            return Semantics.FAILURE
        return Semantics.PROCESS


# --- user fields -----------------------------------------------------------------------------

LabelText = str | dict[str, str]


class UserFieldEnumItem(PortalModel):
    """One option of an enumeration user field (`LIST`)."""

    id: PortalInt = Field(default=None, alias="ID")
    value: str | None = Field(default=None, alias="VALUE")
    sort: PortalInt = Field(default=None, alias="SORT")
    default: YesNo = Field(default=None, alias="DEF")
    xml_id: str | None = Field(default=None, alias="XML_ID")
    delete: YesNo = Field(default=None, alias="DEL")


class UserField(PortalModel):
    """A lead user field as `crm.lead.userfield.get/list` return it."""

    id: PortalInt = Field(default=None, alias="ID")
    entity_id: str | None = Field(default=None, alias="ENTITY_ID")
    field_name: str = Field(alias="FIELD_NAME")
    user_type_id: str | None = Field(default=None, alias="USER_TYPE_ID")
    xml_id: str | None = Field(default=None, alias="XML_ID")
    sort: PortalInt = Field(default=None, alias="SORT")
    multiple: YesNo = Field(default=None, alias="MULTIPLE")
    mandatory: YesNo = Field(default=None, alias="MANDATORY")
    show_filter: str | None = Field(default=None, alias="SHOW_FILTER")
    show_in_list: YesNo = Field(default=None, alias="SHOW_IN_LIST")
    edit_in_list: YesNo = Field(default=None, alias="EDIT_IN_LIST")
    is_searchable: YesNo = Field(default=None, alias="IS_SEARCHABLE")
    settings: Annotated[dict[str, Any] | None, BeforeValidator(lambda v: v or None)] = Field(
        default=None, alias="SETTINGS"
    )
    edit_form_label: LabelText | None = Field(default=None, alias="EDIT_FORM_LABEL")
    list_column_label: LabelText | None = Field(default=None, alias="LIST_COLUMN_LABEL")
    list_filter_label: LabelText | None = Field(default=None, alias="LIST_FILTER_LABEL")
    error_message: LabelText | None = Field(default=None, alias="ERROR_MESSAGE")
    help_message: LabelText | None = Field(default=None, alias="HELP_MESSAGE")
    items: list[UserFieldEnumItem] | None = Field(default=None, alias="LIST")


class _UserFieldInput(InputModel):
    label: LabelText | None = Field(default=None, alias="LABEL")
    list_filter_label: LabelText | None = Field(default=None, alias="LIST_FILTER_LABEL")
    list_column_label: LabelText | None = Field(default=None, alias="LIST_COLUMN_LABEL")
    edit_form_label: LabelText | None = Field(default=None, alias="EDIT_FORM_LABEL")
    error_message: LabelText | None = Field(default=None, alias="ERROR_MESSAGE")
    help_message: LabelText | None = Field(default=None, alias="HELP_MESSAGE")
    mandatory: YesNo = Field(default=None, alias="MANDATORY")
    show_filter: YesNo = Field(default=None, alias="SHOW_FILTER")
    show_in_list: YesNo = Field(default=None, alias="SHOW_IN_LIST")
    edit_in_list: YesNo = Field(default=None, alias="EDIT_IN_LIST")
    is_searchable: YesNo = Field(default=None, alias="IS_SEARCHABLE")
    sort: int | None = Field(default=None, alias="SORT")
    xml_id: str | None = Field(default=None, alias="XML_ID")
    settings: dict[str, Any] | None = Field(default=None, alias="SETTINGS")
    items: list[UserFieldEnumItem] | None = Field(default=None, alias="LIST")


class UserFieldDraft(_UserFieldInput):
    """A new lead user field (`crm.lead.userfield.add`); the portal prefixes `UF_CRM_`."""

    user_type_id: str = Field(alias="USER_TYPE_ID")
    field_name: str = Field(alias="FIELD_NAME")
    multiple: YesNo = Field(default=None, alias="MULTIPLE")


class UserFieldChanges(_UserFieldInput):
    """Changes to a lead user field (`crm.lead.userfield.update`); name/type are immutable."""


# --- card layout -----------------------------------------------------------------------------


class CardElement(PortalModel):
    """A field placed in a card section."""

    name: str
    option_flags: PortalInt = Field(default=None, alias="optionFlags")
    options: dict[str, Any] | None = None


class CardSection(PortalModel):
    """A section of the lead card (`crm.lead.details.configuration.*`)."""

    name: str
    title: str
    type: str = "section"
    elements: list[CardElement] = Field(default_factory=list)


# --- users, duplicates, events, settings -----------------------------------------------------


class PortalUser(PortalModel):
    """A portal employee (`user.get`, `user.current`): only the fields named here are kept.

    The directory holds every active user for the whole run, and twice while it re-reads them.
    A portal sends about 45 fields per user (the emulator 20); keeping the ones the bot does
    not use took 3.2-4.5 KB per user instead of 1.4 (10,000 users: 32-45 MB instead of 14).
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    id: PortalInt = Field(default=None, alias="ID")
    active: Flag = Field(default=None, alias="ACTIVE")
    name: str | None = Field(default=None, alias="NAME")
    last_name: str | None = Field(default=None, alias="LAST_NAME")
    second_name: str | None = Field(default=None, alias="SECOND_NAME")
    email: str | None = Field(default=None, alias="EMAIL")
    personal_mobile: str | None = Field(default=None, alias="PERSONAL_MOBILE")
    personal_phone: str | None = Field(default=None, alias="PERSONAL_PHONE")
    work_phone: str | None = Field(default=None, alias="WORK_PHONE")
    work_position: str | None = Field(default=None, alias="WORK_POSITION")
    time_zone: str | None = Field(default=None, alias="TIME_ZONE")
    """The user's own time zone (an IANA name), empty when they keep the portal's."""
    is_admin: bool | None = Field(default=None, alias="ADMIN")
    uf_department: Annotated[list[int] | None, BeforeValidator(lambda v: v or None)] = Field(
        default=None, alias="UF_DEPARTMENT"
    )

    @property
    def full_name(self) -> str:
        """First and last name joined (empty when neither is set)."""
        return joined_name(self.name, self.last_name)


class DuplicateMatches(PortalModel):
    """What `crm.duplicate.findbycomm` found, by entity type (an empty answer is `[]`)."""

    lead: list[int] = Field(default_factory=list, alias="LEAD")
    contact: list[int] = Field(default_factory=list, alias="CONTACT")
    company: list[int] = Field(default_factory=list, alias="COMPANY")

    @model_validator(mode="before")
    @classmethod
    def _empty_list_means_none(cls, data: Any) -> Any:
        if isinstance(data, list) and not data:
            return {}
        return data

    @property
    def empty(self) -> bool:
        """True when nothing matched."""
        return not (self.lead or self.contact or self.company)


class EventHandler(PortalModel):
    """A registered event handler (`event.get`)."""

    event: str
    handler: str | None = None
    auth_type: PortalInt = None
    offline: Flag = None
    connector_id: str | None = None


class CrmMode(IntEnum):
    """`crm.settings.mode.get`: classic CRM has leads, simple CRM converts them at once."""

    CLASSIC = 1
    SIMPLE = 2


LeadCustomerType = Literal[1, 2]


class AppInfo(PortalModel):
    """`app.info`: the application's record on the portal (OAuth context only)."""

    id: PortalInt = Field(default=None, alias="ID")
    code: str = Field(default="", alias="CODE")
    version: PortalInt = Field(default=None, alias="VERSION")
    status: str = Field(default="", alias="STATUS")
    installed: Flag = Field(default=None, alias="INSTALLED")
    license: str = Field(default="", alias="LICENSE")


class OfflineEvent(PortalModel):
    """One record of the application's offline event queue (`event.offline.get`)."""

    id: PortalInt = Field(default=None, alias="ID")
    timestamp: str = Field(default="", alias="TIMESTAMP_X")
    event_name: str = Field(default="", alias="EVENT_NAME")
    # The event's `data` (for leads `{"FIELDS": {"ID": "5"}}`); the docs' example shows false.
    event_data: Any = Field(default=None, alias="EVENT_DATA")
    event_additional: Any = Field(default=None, alias="EVENT_ADDITIONAL")
    message_id: str = Field(default="", alias="MESSAGE_ID")
    # Only `event.offline.list` shows these: the reservation ("" when none) and the error mark.
    process_id: str = Field(default="", alias="PROCESS_ID")
    error: Flag = Field(default=None, alias="ERROR")

    def fields(self) -> dict[str, str]:
        """`EVENT_DATA.FIELDS` as text values (what an online event's `data[FIELDS]` holds)."""
        data = self.event_data
        fields = data.get("FIELDS") if isinstance(data, dict) else None
        if not isinstance(fields, dict):
            return {}
        return {str(k): str(v) for k, v in fields.items() if isinstance(v, str | int)}


class OfflineEvents(PortalModel):
    """`event.offline.get`: the records read, and the process id that reserves them."""

    process_id: str | None = None
    events: list[OfflineEvent] = Field(default_factory=list)
