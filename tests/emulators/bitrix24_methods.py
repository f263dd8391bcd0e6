"""REST method handlers of the Bitrix24 emulator, registered by lower-case method name."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    PAGE_SIZE,
    ColumnInfo,
    CrmError,
    ListQuery,
    compile_filter,
    digits,
    format_datetime,
    match_term,
    split_filter_key,
)
from tests.emulators.bitrix24_events import KNOWN_EVENTS, OfflineRecord
from tests.emulators.bitrix24_php import (
    lenient_param,
    parse_str,
    php_float,
    php_int,
    php_truthy,
)

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


@dataclass
class MethodOutcome:
    """A method's payload plus list paging data hoisted into the envelope."""

    result: Any
    total: int | None = None
    next: int | None = None


Handler = Callable[["Bitrix24Emulator", "AuthContext", dict[str, Any]], MethodOutcome]


@dataclass(frozen=True)
class MethodSpec:
    """Handler, required scope and whether only OAuth callers may use it."""

    handler: Handler
    scope: str
    oauth_only: bool = False


METHODS: dict[str, MethodSpec] = {}


def rest(name: str, scope: str = "crm", oauth_only: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler under a method name."""

    def register(func: Handler) -> Handler:
        METHODS[name.lower()] = MethodSpec(func, scope, oauth_only)
        return func

    return register


def _ok(result: Any) -> MethodOutcome:
    return MethodOutcome(result)


def _entity_id(params: Mapping[str, Any]) -> int:
    raw = params.get("ID", params.get("id"))
    return php_int(raw) if raw is not None else 0


def _array_param(params: Mapping[str, Any], name: str, *, default: Any = None) -> Any:
    value = lenient_param(params, name)
    if value is None:
        return default
    if value == "" and default is not None:
        return default
    if not isinstance(value, dict | list):
        raise CrmError(f"Parameter '{name}' must be array.")
    return value


def _list_query(params: Mapping[str, Any]) -> ListQuery:
    select = _array_param(params, "select", default=[])
    filter_ = _array_param(params, "filter", default={})
    order = _array_param(params, "order", default={})
    if isinstance(select, dict):
        select = list(select.values())
    if isinstance(filter_, list):
        filter_ = {}
    if isinstance(order, list):
        order = {}
    start_raw = params.get("start", params.get("START", 0))
    start = php_int(start_raw)
    return ListQuery(select=list(select), filter=dict(filter_), order=dict(order), start=start)


def _paged(page_items: list[Any], total: int, next_start: int | None) -> MethodOutcome:
    return MethodOutcome(page_items, total, next_start)


# ---------------------------------------------------------------------- leads


@rest("crm.lead.fields")
def lead_fields(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Field descriptors including user fields."""
    out = {
        spec.name: spec.descriptor(required=spec.name in emu.required_lead_fields)
        for spec in emu.leads_table.fields.values()
    }
    for uf in sorted(emu.user_fields.values(), key=lambda u: (int(u["SORT"]), int(u["ID"]))):
        out[uf["FIELD_NAME"]] = emu.user_field_descriptor(uf)
    return _ok(out)


@rest("crm.lead.add")
def lead_add(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Create a lead; returns its integer id."""
    fields = lenient_param(params, "fields")
    extra = lenient_param(params, "params")
    return _ok(emu.add_lead(fields, ctx.user_id, params=extra if isinstance(extra, dict) else {}))


@rest("crm.lead.get")
def lead_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """One lead with all fields, multifields present and user fields."""
    lead_id = _entity_id(params)
    if lead_id <= 0:
        raise CrmError("ID is not defined or invalid.")
    row = emu.leads_table.rows.get(lead_id)
    if row is None:
        raise CrmError("Not found")
    return _ok(emu.leads_table.render(row, for_list=False))


@rest("crm.lead.update")
def lead_update(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Update a lead; true."""
    emu.update_lead(_entity_id(params), lenient_param(params, "fields"), ctx.user_id)
    return _ok(True)


@rest("crm.lead.delete")
def lead_delete(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Delete a lead; true."""
    emu.delete_lead(_entity_id(params), ctx.user_id)
    return _ok(True)


@rest("crm.lead.list")
def lead_list(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Page of leads with select/filter/order/start."""
    page = emu.leads_table.query(_list_query(params))
    return _paged(page.items, page.total, page.next)


# ---------------------------------------------------------------------- product rows

_ROW_NUMERIC = (
    "PRICE",
    "PRICE_EXCLUSIVE",
    "PRICE_NETTO",
    "PRICE_BRUTTO",
    "QUANTITY",
    "DISCOUNT_RATE",
    "DISCOUNT_SUM",
)


@rest("crm.lead.productrows.set")
def productrows_set(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Replace the lead's product rows."""
    lead_id = _entity_id(params)
    if lead_id <= 0:
        raise CrmError("The parameter id is invalid or not defined.")
    rows = lenient_param(params, "rows")
    if rows is None or rows == "":
        rows = []
    if isinstance(rows, dict):
        rows = list(rows.values())
    if not isinstance(rows, list):
        raise CrmError("The parameter rows must be array.")
    lead = emu.leads_table.rows.get(lead_id)
    if lead is None:
        raise CrmError("Not found.")
    prepared: list[dict[str, Any]] = []
    for raw in rows:
        if not isinstance(raw, dict):
            continue
        prepared.append(_product_row(emu, lead_id, raw))
    emu.product_rows[lead_id] = prepared
    if lead.get("IS_MANUAL_OPPORTUNITY") != "Y" and prepared:
        total = sum(r["PRICE"] * r["QUANTITY"] for r in prepared)
        lead["OPPORTUNITY"] = f"{total:.2f}"
    return _ok(True)


def _product_row(emu: Bitrix24Emulator, lead_id: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    product_id = php_int(raw.get("PRODUCT_ID", 0))
    product = emu.products_table.rows.get(product_id) if product_id > 0 else None
    discount_type = php_int(raw.get("DISCOUNT_TYPE_ID", 2)) or 2
    price = php_float(raw.get("PRICE", 0))
    quantity = php_float(raw.get("QUANTITY", 1)) if "QUANTITY" in raw else 1.0
    rate = php_float(raw.get("DISCOUNT_RATE", 0))
    if discount_type == 1 and "DISCOUNT_SUM" not in raw and "DISCOUNT_RATE" in raw:
        raise CrmError(
            "Discount Sum (DISCOUNT_SUM) is required if Monetary Discount Type "
            "(DISCOUNT_TYPE_ID) is defined<br>",
            "ERROR_CORE",
        )
    if discount_type == 2 and rate >= 100 and "DISCOUNT_SUM" not in raw:
        raise CrmError(
            "Discount Sum (DISCOUNT_SUM) is required if Percentage Discount Type "
            "(DISCOUNT_TYPE_ID) is defined and Discount Rate (DISCOUNT_RATE) is 100%<br>",
            "ERROR_CORE",
        )
    discount_sum = php_float(raw.get("DISCOUNT_SUM", 0))
    tax_rate = raw.get("TAX_RATE")
    row_id = emu._product_row_ids.take()
    name = raw.get("PRODUCT_NAME") or (product["NAME"] if product else f"[{row_id}]")
    original = product["NAME"] if product else name
    price_exclusive = php_float(raw.get("PRICE_EXCLUSIVE", price))
    return {
        "ID": str(row_id),
        "OWNER_ID": str(lead_id),
        "OWNER_TYPE": "L",
        "PRODUCT_ID": product_id,
        "PRODUCT_NAME": str(name),
        "ORIGINAL_PRODUCT_NAME": str(original),
        "PRODUCT_DESCRIPTION": "",
        "PRICE": price,
        "PRICE_EXCLUSIVE": price_exclusive,
        "PRICE_NETTO": php_float(raw.get("PRICE_NETTO", price_exclusive + discount_sum)),
        "PRICE_BRUTTO": php_float(raw.get("PRICE_BRUTTO", price)),
        "PRICE_ACCOUNT": f"{price:.8f}",
        "QUANTITY": quantity,
        "DISCOUNT_TYPE_ID": discount_type,
        "DISCOUNT_RATE": rate,
        "DISCOUNT_SUM": discount_sum,
        "TAX_RATE": php_float(tax_rate) if tax_rate not in (None, "") else None,
        "TAX_INCLUDED": "Y" if str(raw.get("TAX_INCLUDED", "N")).upper() == "Y" else "N",
        "CUSTOMIZED": "Y",
        "MEASURE_CODE": php_int(raw.get("MEASURE_CODE", 796)),
        "MEASURE_NAME": str(raw.get("MEASURE_NAME", "pcs")),
        "SORT": php_int(raw.get("SORT", 10)),
        "XML_ID": "",
        "TYPE": 1 if product_id else 7,
        "STORE_ID": None,
        "RESERVE_ID": None,
        "DATE_RESERVE_END": None,
        "RESERVE_QUANTITY": None,
    }


@rest("crm.lead.productrows.get")
def productrows_get(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """The lead's product rows (empty list for an unknown lead)."""
    lead_id = _entity_id(params)
    if lead_id <= 0:
        raise CrmError("The parameter id is invalid or not defined.")
    return _ok([dict(r) for r in emu.product_rows.get(lead_id, [])])


# ---------------------------------------------------------------------- lead <-> contact


@rest("crm.lead.contact.fields")
def lead_contact_fields(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Binding field descriptors."""

    def desc(type_: str, title: str, required: bool = False) -> dict[str, Any]:
        return {
            "type": type_,
            "isRequired": required,
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": False,
            "isDynamic": False,
            "title": title,
        }

    return _ok(
        {
            "SORT": desc("integer", "Sorting"),
            "IS_PRIMARY": desc("char", "Primary"),
            "CONTACT_ID": desc("integer", "Contact", True),
        }
    )


def _binding_lead(emu: Bitrix24Emulator, params: Mapping[str, Any], quoted: bool) -> int:
    lead_id = _entity_id(params)
    if lead_id <= 0:
        name = "'ownerEntityID'" if quoted else "ownerEntityID"
        raise CrmError(f"The parameter {name} is invalid or not defined.")
    if lead_id not in emu.leads_table.rows:
        raise CrmError("Not found.")
    return lead_id


@rest("crm.lead.contact.add")
def lead_contact_add(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Bind a contact; false when already bound."""
    lead_id = _binding_lead(emu, params, True)
    fields = lenient_param(params, "fields")
    if not isinstance(fields, dict) or php_int(fields.get("CONTACT_ID", 0)) <= 0:
        raise CrmError("The parameter 'fields' is not valid.")
    contact_id = php_int(fields["CONTACT_ID"])
    bindings = emu.lead_contacts.setdefault(lead_id, [])
    if any(b["CONTACT_ID"] == contact_id for b in bindings):
        return _ok(False)
    primary = str(fields.get("IS_PRIMARY", "N")).upper() == "Y" or not any(
        b["IS_PRIMARY"] == "Y" for b in bindings
    )
    if primary:
        for binding in bindings:
            binding["IS_PRIMARY"] = "N"
    bindings.append(
        {
            "CONTACT_ID": contact_id,
            "SORT": php_int(fields.get("SORT", 10)) or 10,
            "ROLE_ID": 0,
            "IS_PRIMARY": "Y" if primary else "N",
        }
    )
    bindings.sort(key=lambda b: b["SORT"])
    emu._mirror_primary_contact(lead_id)
    return _ok(True)


@rest("crm.lead.contact.delete")
def lead_contact_delete(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Unbind a contact; false when it was not bound. Promotes a new primary."""
    lead_id = _binding_lead(emu, params, True)
    fields = lenient_param(params, "fields")
    if not isinstance(fields, dict) or php_int(fields.get("CONTACT_ID", 0)) <= 0:
        raise CrmError("The parameter 'fields' is not valid.")
    contact_id = php_int(fields["CONTACT_ID"])
    bindings = emu.lead_contacts.get(lead_id, [])
    target = next((b for b in bindings if b["CONTACT_ID"] == contact_id), None)
    if target is None:
        return _ok(False)
    bindings.remove(target)
    emu._mirror_primary_contact(lead_id)
    return _ok(True)


@rest("crm.lead.contact.items.get")
def lead_contact_items_get(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Bindings with integer values."""
    lead_id = _binding_lead(emu, params, False)
    return _ok([dict(b) for b in emu.lead_contacts.get(lead_id, [])])


@rest("crm.lead.contact.items.set")
def lead_contact_items_set(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Replace all bindings."""
    lead_id = _binding_lead(emu, params, False)
    items = lenient_param(params, "items")
    if isinstance(items, dict):
        items = list(items.values())
    if not isinstance(items, list):
        raise CrmError("The parameter items must be array.")
    bindings: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or php_int(item.get("CONTACT_ID", 0)) <= 0:
            raise CrmError("The parameter 'items' is not valid.")
        contact_id = php_int(item["CONTACT_ID"])
        if any(b["CONTACT_ID"] == contact_id for b in bindings):
            continue
        bindings.append(
            {
                "CONTACT_ID": contact_id,
                "SORT": php_int(item.get("SORT", 10 * (len(bindings) + 1))),
                "ROLE_ID": 0,
                "IS_PRIMARY": "Y" if str(item.get("IS_PRIMARY", "N")).upper() == "Y" else "N",
            }
        )
    seen_primary = False
    for binding in bindings:
        if binding["IS_PRIMARY"] == "Y":
            if seen_primary:
                binding["IS_PRIMARY"] = "N"
            seen_primary = True
    bindings.sort(key=lambda b: b["SORT"])
    emu.lead_contacts[lead_id] = bindings
    emu._mirror_primary_contact(lead_id)
    return _ok(True)


@rest("crm.lead.contact.items.delete")
def lead_contact_items_delete(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Remove all bindings."""
    lead_id = _binding_lead(emu, params, False)
    emu.lead_contacts[lead_id] = []
    emu._mirror_primary_contact(lead_id)
    return _ok(True)


# ---------------------------------------------------------------------- user fields


def _uf_fields_param(params: Mapping[str, Any]) -> dict[str, Any]:
    fields = lenient_param(params, "fields")
    if fields is None:
        return {k: v for k, v in params.items() if k not in ("auth",)}
    if not isinstance(fields, dict):
        raise CrmError("Parameter 'fields' must be array.")
    return fields


def _require_crm_admin(emu: Bitrix24Emulator, ctx: AuthContext) -> None:
    if not emu.is_admin(ctx.user_id):
        raise CrmError("Access denied.")


def _render_uf(record: Mapping[str, Any], lang: str | None) -> dict[str, Any]:
    out = {
        k: (dict(v) if isinstance(v, dict) else [dict(i) for i in v] if isinstance(v, list) else v)
        for k, v in record.items()
    }
    if lang:
        for key in (
            "EDIT_FORM_LABEL",
            "LIST_COLUMN_LABEL",
            "LIST_FILTER_LABEL",
            "ERROR_MESSAGE",
            "HELP_MESSAGE",
        ):
            out[key] = record[key].get(lang, "")
    return out


def _field_sort_key(name: str, numeric: bool) -> Callable[[Mapping[str, Any]], Any]:
    def key(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        return php_int(value) if numeric else str(value or "")

    return key


@rest("crm.lead.userfield.add")
def userfield_add(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Create a lead user field; returns its id."""
    _require_crm_admin(emu, ctx)
    return _ok(emu.add_user_field(_uf_fields_param(params), user_id=ctx.user_id))


@rest("crm.lead.userfield.get")
def userfield_get(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """One user field."""
    field_id = _entity_id(params)
    if field_id <= 0:
        raise CrmError("ID is not defined or invalid.")
    record = emu.user_fields.get(field_id)
    if record is None:
        raise CrmError(f"The entity with ID '{field_id}' is not found.", "ERROR_NOT_FOUND")
    return _ok(_render_uf(record, None))


@rest("crm.lead.userfield.list")
def userfield_list(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """All lead user fields matching the filter; default order SORT, ID."""
    filter_ = _array_param(params, "filter", default={})
    order = _array_param(params, "order", default={})
    if isinstance(filter_, list):
        filter_ = {}
    lang = filter_.pop("LANG", None) if isinstance(filter_, dict) else None
    columns = {
        name: ColumnInfo("num" if name in ("ID", "SORT") else "str", "string")
        for name in (
            "ID",
            "FIELD_NAME",
            "USER_TYPE_ID",
            "XML_ID",
            "SORT",
            "MULTIPLE",
            "MANDATORY",
            "SHOW_FILTER",
            "SHOW_IN_LIST",
            "EDIT_IN_LIST",
            "IS_SEARCHABLE",
            "ENTITY_ID",
        )
    }
    terms = compile_filter(filter_, columns, emu.tz)
    records = [r for r in emu.user_fields.values() if all(match_term(t, r, emu.tz) for t in terms)]
    records.sort(key=lambda r: (int(r["SORT"]), int(r["ID"])))
    if isinstance(order, dict):
        for key, direction in reversed(list(order.items())):
            upper = str(key).upper()
            if upper in columns:
                records.sort(
                    key=_field_sort_key(upper, columns[upper].kind == "num"),
                    reverse=str(direction).upper() == "DESC",
                )
    items = [_render_uf(r, str(lang) if lang else None) for r in records]
    return MethodOutcome(items, len(items))


@rest("crm.lead.userfield.update")
def userfield_update(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Change a user field; true."""
    _require_crm_admin(emu, ctx)
    field_id = _entity_id(params)
    if field_id <= 0:
        raise CrmError("ID is not defined or invalid.")
    fields = lenient_param(params, "fields")
    if not isinstance(fields, dict):
        raise CrmError("Parameter 'fields' must be array.")
    emu.update_user_field(field_id, fields, user_id=ctx.user_id)
    return _ok(True)


@rest("crm.lead.userfield.delete")
def userfield_delete(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Delete a user field and its values; true."""
    _require_crm_admin(emu, ctx)
    field_id = _entity_id(params)
    if field_id <= 0:
        raise CrmError("ID is not defined or invalid.")
    emu.delete_user_field(field_id, user_id=ctx.user_id)
    return _ok(True)


# ---------------------------------------------------------------------- card configuration


def _config_key(
    emu: Bitrix24Emulator, ctx: AuthContext, params: Mapping[str, Any]
) -> tuple[str, int, int]:
    scope = str(params.get("scope", "P") or "P").upper()
    if scope not in ("P", "C"):
        raise CrmError("The parameter scope is invalid.")
    user_id = php_int(params.get("userId", ctx.user_id)) or ctx.user_id
    if scope == "C" or user_id != ctx.user_id:
        _require_crm_admin(emu, ctx)
    extras = params.get("extras") if isinstance(params.get("extras"), dict) else {}
    assert isinstance(extras, dict)
    customer_type = php_int(extras.get("leadCustomerType", extras.get("lead.customer.type", 1)))
    return scope, (0 if scope == "C" else user_id), customer_type or 1


@rest("crm.lead.details.configuration.get")
def details_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Stored card layout or null."""
    return _ok(emu.details_configuration.get(_config_key(emu, ctx, params)))


@rest("crm.lead.details.configuration.set")
def details_set(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Validate and store a card layout."""
    key = _config_key(emu, ctx, params)
    data = params.get("data")
    if isinstance(data, dict):
        data = list(data.values())
    if not isinstance(data, list):
        raise CrmError("The parameter data must be array.")
    for section_index, section in enumerate(data):
        if not isinstance(section, dict) or not section.get("name"):
            raise CrmError(f"Section at index {section_index} does not have name.")
        if not section.get("title"):
            raise CrmError(f"Section at index {section_index} does not have title.")
        elements = section.get("elements") or []
        if isinstance(elements, dict):
            elements = list(elements.values())
        for element_index, element in enumerate(elements):
            if not isinstance(element, dict) or not element.get("name"):
                raise CrmError(
                    f"Element at index {element_index} in section at index "
                    f"{section_index} does not have name."
                )
    stored = []
    for section in data:
        elements = section.get("elements") or []
        if isinstance(elements, dict):
            elements = list(elements.values())
        stored.append(
            {
                "name": section["name"],
                "title": section["title"],
                "type": section.get("type", "section"),
                "elements": [
                    {**e, "optionFlags": str(e.get("optionFlags", "0"))} for e in elements
                ],
            }
        )
    emu.details_configuration[key] = stored
    return _ok(True)


@rest("crm.lead.details.configuration.reset")
def details_reset(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Forget a stored layout."""
    emu.details_configuration.pop(_config_key(emu, ctx, params), None)
    return _ok(True)


@rest("crm.lead.details.configuration.forceCommonScopeForAll")
def details_force_common(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Delete personal layouts for the given lead customer type."""
    _require_crm_admin(emu, ctx)
    _, _, customer_type = _config_key(emu, ctx, {**params, "scope": "C"})
    for key in [k for k in emu.details_configuration if k[0] == "P" and k[2] == customer_type]:
        del emu.details_configuration[key]
    return _ok(True)


# ---------------------------------------------------------------------- dictionaries


@rest("crm.status.list")
def status_list(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Dictionary entries; select is ignored."""
    filter_ = _array_param(params, "filter", default={})
    order = _array_param(params, "order", default={})
    if isinstance(filter_, list):
        filter_ = {}
    if "ENTITY_ID" in filter_ and not isinstance(filter_["ENTITY_ID"], str | list):
        raise CrmError("Incorrect parameters passed.", "Invalid parameters.")
    columns = {
        name: ColumnInfo("num" if name in ("ID", "SORT") else "str", "string")
        for name in (
            "ID",
            "ENTITY_ID",
            "STATUS_ID",
            "NAME",
            "SORT",
            "SYSTEM",
            "CATEGORY_ID",
            "COLOR",
            "NAME_INIT",
        )
    }
    terms = compile_filter(filter_, columns, emu.tz)
    rows = [r for r in emu.statuses.rows if all(match_term(t, r, emu.tz) for t in terms)]
    rows.sort(key=lambda r: int(r["ID"]))
    if isinstance(order, dict):
        for key, direction in reversed(list(order.items())):
            upper = str(key).upper()
            if upper in columns:
                rows.sort(
                    key=_field_sort_key(upper, columns[upper].kind == "num"),
                    reverse=str(direction).upper() == "DESC",
                )
    items = [emu.statuses.render(r) for r in rows]
    return MethodOutcome(items, len(items))


@rest("crm.status.entity.items")
def status_entity_items(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Light dictionary listing."""
    entity = params.get("entityId", params.get("ENTITY_ID"))
    if not isinstance(entity, str) or not entity:
        raise CrmError("The parameter entityId is not defined or invalid.")
    return _ok(
        [
            {"NAME": r["NAME"], "SORT": int(r["SORT"]), "STATUS_ID": r["STATUS_ID"]}
            for r in emu.statuses.entries(entity)
        ]
    )


@rest("crm.settings.mode.get")
def settings_mode(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """1 classic, 2 simple."""
    return _ok(2 if emu.simple_mode else 1)


@rest("crm.enum.settings.mode")
def enum_settings_mode(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Mode names."""
    return _ok(
        [
            {"ID": 1, "NAME": "Classic CRM", "SYMBOL_CODE": None, "SYMBOL_CODE_SHORT": None},
            {"ID": 2, "NAME": "Simple CRM", "SYMBOL_CODE": None, "SYMBOL_CODE_SHORT": None},
        ]
    )


@rest("crm.multifield.fields")
def multifield_fields(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Multifield item descriptors."""

    def desc(type_: str, title: str, read_only: bool) -> dict[str, Any]:
        return {
            "type": type_,
            "isRequired": False,
            "isReadOnly": read_only,
            "isImmutable": False,
            "isMultiple": False,
            "isDynamic": False,
            "title": title,
        }

    return _ok(
        {
            "ID": desc("int", "ID", True),
            "TYPE_ID": desc("string", "Field Type", True),
            "VALUE": desc("string", "Value", False),
            "VALUE_TYPE": desc("string", "Value type", False),
        }
    )


# ---------------------------------------------------------------------- contacts, deals


@rest("crm.contact.fields")
def contact_fields(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Contact field descriptors."""
    return _ok({s.name: s.descriptor() for s in emu.contacts_table.fields.values()})


@rest("crm.contact.add")
def contact_add(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Create a contact; integer id."""
    return _ok(emu.add_contact(lenient_param(params, "fields"), ctx.user_id))


@rest("crm.contact.get")
def contact_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """One contact."""
    contact_id = _entity_id(params)
    if contact_id <= 0:
        raise CrmError("ID is not defined or invalid.")
    row = emu.contacts_table.rows.get(contact_id)
    if row is None:
        raise CrmError("Not found")
    return _ok(emu.contacts_table.render(row, for_list=False))


@rest("crm.contact.update")
def contact_update(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Update a contact; true."""
    emu.update_contact(_entity_id(params), lenient_param(params, "fields"), ctx.user_id)
    return _ok(True)


@rest("crm.contact.list")
def contact_list(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Page of contacts."""
    page = emu.contacts_table.query(_list_query(params))
    return _paged(page.items, page.total, page.next)


@rest("crm.deal.list")
def deal_list(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Page of deals (only those made by simple-mode conversion exist)."""
    page = emu.deals_table.query(_list_query(params))
    return _paged(page.items, page.total, page.next)


@rest("crm.deal.get")
def deal_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """One deal."""
    deal_id = _entity_id(params)
    if deal_id <= 0:
        raise CrmError("ID is not defined or invalid.")
    row = emu.deals_table.rows.get(deal_id)
    if row is None:
        raise CrmError("Not found")
    return _ok(emu.deals_table.render(row, for_list=False))


# ---------------------------------------------------------------------- duplicates


@rest("crm.duplicate.findbycomm")
def duplicate_findbycomm(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Entity ids by phone/e-mail, keyed by entity type; [] when nothing matches."""
    comm_type = str(params.get("type", params.get("TYPE", "")) or "").upper()
    if not comm_type:
        raise CrmError("Communication type is not defined.")
    if comm_type not in ("PHONE", "EMAIL"):
        raise CrmError(f"Communication type '{comm_type}' is not supported in current context.")
    values = params.get("values", params.get("VALUES"))
    if isinstance(values, dict):
        values = list(values.values())
    if not isinstance(values, list) or not values:
        raise CrmError("Communication values is not defined.")
    wanted: list[str] = []
    for value in values:
        text = str(value).strip() if not isinstance(value, list | dict) else ""
        if text and text not in wanted:
            wanted.append(text)
        if len(wanted) == 20:
            break
    entity_type = str(params.get("entity_type", params.get("ENTITY_TYPE", "")) or "").upper()
    if entity_type == "DEAL":
        raise CrmError("Deal is not supported in current context.")
    if comm_type == "PHONE":
        keys = {digits(v) for v in wanted} - {""}

        def hit(item_value: str) -> bool:
            return digits(item_value) in keys
    else:
        keys = {v.casefold() for v in wanted}

        def hit(item_value: str) -> bool:
            return item_value.strip().casefold() in keys

    tables = {
        "LEAD": emu.leads_table.rows,
        "CONTACT": emu.contacts_table.rows,
        "COMPANY": emu.companies,
    }
    result: dict[str, list[int]] = {}
    for type_name, rows in tables.items():
        if entity_type and entity_type != type_name:
            continue
        found = [
            row_id
            for row_id, row in rows.items()
            if any(hit(str(i.get("VALUE", ""))) for i in row.get(comm_type) or [])
        ]
        if found:
            result[type_name] = sorted(found)[:20]
            if len(found) >= 20:
                break
    return _ok(result)


# ---------------------------------------------------------------------- timeline, products


@rest("crm.timeline.comment.add")
def timeline_comment_add(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Store a timeline comment; integer id."""
    fields = lenient_param(params, "fields")
    if not isinstance(fields, dict):
        raise CrmError("Parameter 'fields' must be array.")
    entity_type = str(fields.get("ENTITY_TYPE", "")).lower()
    entity_id = php_int(fields.get("ENTITY_ID", 0))
    comment = str(fields.get("COMMENT", "") or "")
    if entity_type not in ("lead", "contact", "deal", "company") or entity_id <= 0:
        raise CrmError("Owner entity is not defined or invalid.")
    tables = {
        "lead": emu.leads_table.rows,
        "contact": emu.contacts_table.rows,
        "deal": emu.deals_table.rows,
        "company": emu.companies,
    }
    if entity_id not in tables[entity_type]:
        raise CrmError("Not found.")
    if not comment.strip():
        raise CrmError("Empty comment message.")
    comment_id = emu._comment_ids.take()
    author = php_int(fields.get("AUTHOR_ID", 0)) or ctx.user_id
    emu.timeline_comments[comment_id] = {
        "ID": comment_id,
        "CREATED": emu.now_text(),
        "ENTITY_ID": entity_id,
        "ENTITY_TYPE": entity_type,
        "AUTHOR_ID": author,
        "COMMENT": comment,
        "FILES": [],
    }
    return _ok(comment_id)


def _render_comment(c: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ID": str(c["ID"]),
        "CREATED": c["CREATED"],
        "ENTITY_ID": str(c["ENTITY_ID"]),
        "ENTITY_TYPE": c["ENTITY_TYPE"],
        "AUTHOR_ID": str(c["AUTHOR_ID"]),
        "COMMENT": c["COMMENT"],
        "FILES": [],
    }


@rest("crm.timeline.comment.list")
def timeline_comment_list(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Comments filtered by ENTITY_ID/ENTITY_TYPE, newest first unless ordered."""
    filter_ = _array_param(params, "filter", default={})
    if isinstance(filter_, list):
        filter_ = {}
    entity_type = str(filter_.get("ENTITY_TYPE", "")).lower()
    entity_id = php_int(filter_.get("ENTITY_ID", 0))
    rows = [
        c
        for c in emu.timeline_comments.values()
        if (not entity_type or c["ENTITY_TYPE"] == entity_type)
        and (not entity_id or c["ENTITY_ID"] == entity_id)
    ]
    order = _array_param(params, "order", default={})
    ascending = isinstance(order, dict) and str(order.get("ID", "DESC")).upper() == "ASC"
    rows.sort(key=lambda c: c["ID"], reverse=not ascending)
    start = max(0, php_int(params.get("start", 0)))
    page_start = (start // PAGE_SIZE) * PAGE_SIZE
    page = rows[page_start : page_start + PAGE_SIZE]
    next_start = page_start + PAGE_SIZE if page_start + PAGE_SIZE < len(rows) else None
    return MethodOutcome([_render_comment(c) for c in page], len(rows), next_start)


@rest("crm.timeline.comment.get")
def timeline_comment_get(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """One comment."""
    comment = emu.timeline_comments.get(_entity_id(params))
    if comment is None:
        raise CrmError("Not found.")
    return _ok(_render_comment(comment))


@rest("crm.product.list")
def product_list(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Page of catalogue products."""
    page = emu.products_table.query(_list_query(params))
    return _paged(page.items, page.total, page.next)


@rest("crm.product.get")
def product_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """One product."""
    row = emu.products_table.rows.get(_entity_id(params))
    if row is None:
        raise CrmError("Not found")
    return _ok(dict(row))


# ---------------------------------------------------------------------- users

_USER_STRING_FIELDS = (
    "NAME",
    "LAST_NAME",
    "SECOND_NAME",
    "EMAIL",
    "PERSONAL_MOBILE",
    "PERSONAL_PHONE",
    "WORK_PHONE",
    "WORK_POSITION",
    "XML_ID",
    "PERSONAL_CITY",
    "USER_TYPE",
)


@rest("user.current", scope="basic")
def user_current(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """The calling user."""
    user = emu.users.get(ctx.user_id)
    if user is None:
        raise CrmError("Unable to authorize user", "authorization_error", 401)
    return _ok(dict(user))


@rest("user.admin", scope="basic")
def user_admin(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Whether the caller is an administrator."""
    return _ok(emu.is_admin(ctx.user_id))


@rest("profile", scope="basic")
def profile(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Basic information about the caller."""
    user = emu.users.get(ctx.user_id, {})
    return _ok(
        {
            "ID": str(ctx.user_id),
            "ADMIN": emu.is_admin(ctx.user_id),
            "NAME": user.get("NAME", ""),
            "LAST_NAME": user.get("LAST_NAME", ""),
            "PERSONAL_GENDER": "",
            "TIME_ZONE": "",
        }
    )


def _user_matches(user: Mapping[str, Any], key: str, value: Any) -> bool | None:
    """Evaluate one user.get filter key; None when the key is not a user field."""
    negate = key.startswith("!")
    name = key.lstrip("!")
    op = ""
    for prefix in (">=", "<=", ">", "<", "=", "%", "@"):
        if name.startswith(prefix):
            op, name = prefix, name[len(prefix) :]
            break
    name = name.upper()
    if name == "ID":
        target = value if isinstance(value, list) else [value]
        ids = {php_int(v) for v in target}
        own = php_int(user["ID"])
        if op in (">", ">=", "<", "<="):
            bound = php_int(value)
            hit = {">": own > bound, ">=": own >= bound, "<": own < bound, "<=": own <= bound}[op]
        else:
            hit = own in ids
    elif name == "ACTIVE":
        wanted = value if isinstance(value, bool) else str(value).upper() in ("Y", "1", "TRUE")
        hit = bool(user["ACTIVE"]) == wanted
    elif name == "UF_DEPARTMENT":
        target = value if isinstance(value, list) else [value]
        hit = bool({php_int(v) for v in target} & set(user.get("UF_DEPARTMENT") or []))
    elif name in _USER_STRING_FIELDS:
        own_text = str(user.get(name) or "").casefold()
        if op == "=":
            hit = own_text == str(value).casefold()
        elif op == "@":
            target = value if isinstance(value, list) else [value]
            hit = own_text in {str(v).casefold() for v in target}
        else:
            # CUser::GetList treats plain string filters as substring searches.
            needle = str(value).casefold()
            hit = needle in own_text if needle else True
    else:
        return None
    return hit != negate


@rest("user.get", scope="user")
def user_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Users by filter (FILTER key or top-level keys), FIND, sort/order, pages of 50."""
    filter_ = params.get("FILTER", params.get("filter"))
    if not isinstance(filter_, dict):
        filter_ = {
            k: v
            for k, v in params.items()
            if k.upper() not in ("SORT", "ORDER", "START", "ADMIN_MODE", "FILTER")
        }
    find = filter_.pop("FIND", None) if "FIND" in filter_ else None
    users = list(emu.users.values())
    matched = []
    for user in users:
        ok = True
        for key, value in filter_.items():
            verdict = _user_matches(user, str(key), value)
            if verdict is False:
                ok = False
                break
        if ok and find:
            needle = str(find).casefold()
            haystack = " ".join(str(user.get(k) or "") for k in _USER_STRING_FIELDS).casefold()
            full = f"{user.get('NAME', '')} {user.get('LAST_NAME', '')}".casefold()
            ok = needle in haystack or needle in full
        if ok:
            matched.append(user)
    sort_field = str(params.get("sort", params.get("SORT", "ID")) or "ID").upper()
    descending = str(params.get("order", params.get("ORDER", "ASC")) or "ASC").upper() == "DESC"
    if sort_field == "ID":
        matched.sort(key=lambda u: int(u["ID"]), reverse=descending)
    else:
        matched.sort(key=lambda u: str(u.get(sort_field) or ""), reverse=descending)
    start = max(0, php_int(params.get("start", params.get("START", 0))))
    page_start = (start // PAGE_SIZE) * PAGE_SIZE
    page = matched[page_start : page_start + PAGE_SIZE]
    next_start = page_start + PAGE_SIZE if page_start + PAGE_SIZE < len(matched) else None
    return MethodOutcome([dict(u) for u in page], len(matched), next_start)


# ---------------------------------------------------------------------- events


@rest("event.bind", scope="basic", oauth_only=True)
def event_bind(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Bind an online handler for the app."""
    event = str(params.get("event", params.get("EVENT", "")) or "").upper()
    if event not in KNOWN_EVENTS:
        raise CrmError("Event not found", "ERROR_EVENT_NOT_FOUND")
    event_type = str(params.get("event_type", "online") or "online").lower()
    if event_type not in ("online", "offline"):
        raise CrmError("Value must be one of {online, offline}", "ERROR_ARGUMENT")
    if event_type == "offline":
        _require_admin(emu, ctx)
        connector = str(params.get("auth_connector", "") or "")
        if not emu.offline.subscribe(event, connector):
            raise CrmError("Handler already exists!", "ERROR_HANDLER_ALREADY_EXIST")
        return _ok(True)
    handler = str(params.get("handler", params.get("HANDLER", "")) or "")
    if not handler:
        raise CrmError("Handler is required", "ERROR_ARGUMENT")
    auth_type = php_int(params.get("auth_type", 0))
    if auth_type and auth_type != ctx.user_id and not emu.is_admin(ctx.user_id):
        raise CrmError("Access denied!", "ACCESS_DENIED", 403)
    for row in emu.event_handlers:
        if (
            row.kind == "app"
            and row.event == event
            and row.handler == handler
            and row.auth_type == auth_type
        ):
            raise CrmError("Handler already exists!", "ERROR_HANDLER_ALREADY_EXIST")
    emu.events.bind_app_handler(event, handler, emu.application_token, auth_type)
    return _ok(True)


@rest("event.unbind", scope="basic", oauth_only=True)
def event_unbind(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Remove matching app handlers; {"count": N}."""
    event = str(params.get("event", params.get("EVENT", "")) or "").upper()
    handler = str(params.get("handler", params.get("HANDLER", "")) or "")
    auth_type = params.get("auth_type")
    if str(params.get("event_type", "online") or "online").lower() == "offline":
        if not emu.is_admin(ctx.user_id):
            raise CrmError(
                "Access denied! Offline events unbinding requires administrator access rights",
                "ACCESS_DENIED",
                403,
            )
        connector = params.get("auth_connector")
        removed = emu.offline.unsubscribe(event, None if connector is None else str(connector))
        return _ok({"count": removed})
    keep = []
    removed = 0
    for row in emu.event_handlers:
        match = (
            row.kind == "app"
            and row.event == event
            and (not handler or row.handler == handler)
            and (auth_type is None or row.auth_type == php_int(auth_type))
        )
        if match:
            removed += 1
        else:
            keep.append(row)
    emu.event_handlers[:] = keep
    return _ok({"count": removed})


@rest("event.get", scope="basic", oauth_only=True)
def event_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """The app's handlers, online then offline."""
    rows: list[dict[str, Any]] = [
        {"event": r.event, "handler": r.handler, "auth_type": str(r.auth_type), "offline": 0}
        for r in emu.event_handlers
        if r.kind == "app"
    ]
    rows += [
        {"event": event, "connector_id": connector, "offline": 1}
        for event, connector in emu.offline.subscriptions
    ]
    return _ok(rows)


def _require_admin(emu: Bitrix24Emulator, ctx: AuthContext) -> None:
    if not emu.is_admin(ctx.user_id):
        raise CrmError("Access denied!", "ACCESS_DENIED", 403)


_OFFLINE_GET_FIELDS = ("ID", "TIMESTAMP_X", "EVENT_NAME", "MESSAGE_ID")
_OFFLINE_LIST_FIELDS = (*_OFFLINE_GET_FIELDS, "PROCESS_ID", "ERROR")


def _offline_row(emu: Bitrix24Emulator, record: OfflineRecord) -> dict[str, Any]:
    return {
        "ID": str(record.id),
        "TIMESTAMP_X": format_datetime(datetime.fromtimestamp(record.timestamp, emu.tz), emu.tz),
        "EVENT_NAME": record.event,
        "EVENT_DATA": record.data,
        "EVENT_ADDITIONAL": {"user_id": record.user_id},
        "MESSAGE_ID": record.message_id,
        "PROCESS_ID": record.process_id,
        "ERROR": "1" if record.error else "0",
    }


def _offline_select(
    emu: Bitrix24Emulator,
    params: Mapping[str, Any],
    records: list[OfflineRecord],
    allowed: tuple[str, ...],
    default_order: str,
) -> list[OfflineRecord]:
    """Filter and order queue records with the limited operator set of event.offline.*."""
    raw_filter = params.get("filter") or {}
    if not isinstance(raw_filter, dict):
        raise CrmError("Filter must be an array", "ERROR_ARGUMENT")
    for key in raw_filter:
        negate, op, name, _ = split_filter_key(str(key))
        if name.upper() not in allowed:
            raise CrmError(f"Filter field not allowed: {name}", "ERROR_ARGUMENT")
        if negate or op == "wild":
            raise CrmError(f"Filter operation not allowed: {key}", "ERROR_ARGUMENT")
    columns = {
        name: ColumnInfo("num" if name == "ID" else "date" if name == "TIMESTAMP_X" else "str", "")
        for name in allowed
    }
    terms = compile_filter(raw_filter, columns, emu.tz)
    rendered = [(r, _offline_row(emu, r)) for r in records]
    matched = [(r, row) for r, row in rendered if all(match_term(t, row, emu.tz) for t in terms)]
    order = params.get("order") or {default_order: "ASC"}
    if not isinstance(order, dict):
        raise CrmError("Order must be an array", "ERROR_ARGUMENT")
    for key, direction in reversed(list(order.items())):
        upper = str(key).upper()
        if str(direction).upper() not in ("ASC", "DESC"):
            raise CrmError(f"Order direction must be ASC or DESC: {direction}", "ERROR_ARGUMENT")
        if upper not in allowed:
            raise CrmError(f"Order field not allowed: {key}", "ERROR_ARGUMENT")
        attribute = {
            "ID": "id",
            "TIMESTAMP_X": "timestamp",
            "EVENT_NAME": "event",
            "MESSAGE_ID": "message_id",
            "PROCESS_ID": "process_id",
            "ERROR": "error",
        }
        matched.sort(
            key=_offline_sort_key(attribute[upper]), reverse=str(direction).upper() == "DESC"
        )
    return [r for r, _ in matched]


def _offline_sort_key(attribute: str) -> Callable[[tuple[OfflineRecord, Any]], Any]:
    def key(item: tuple[OfflineRecord, Any]) -> Any:
        return (getattr(item[0], attribute), item[0].id)

    return key


@rest("event.offline.get", scope="basic", oauth_only=True)
def event_offline_get(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Read (and clear or reserve) queued offline events."""
    _require_admin(emu, ctx)
    connector = str(params.get("auth_connector", "") or "")
    clear = php_truthy(params.get("clear", 1))
    if not clear and not emu.offline_extended:
        raise CrmError(
            "This feature is not enabled for the current license: extended offline events "
            "handling",
            "WRONG_LICENSE",
            403,
        )
    limit = php_int(params.get("limit", 50))
    if limit <= 0:
        raise CrmError("Limit must be greater than 0", "ERROR_ARGUMENT")
    process_id = str(params.get("process_id", "") or "")
    error_mode = php_truthy(params.get("error", 0))
    pool = [
        r
        for r in emu.offline.records
        if r.connector == connector and r.error == error_mode and r.process_id == process_id
    ]
    chosen = _offline_select(emu, params, pool, _OFFLINE_GET_FIELDS, "TIMESTAMP_X")[:limit]
    events = []
    for record in chosen:
        row = _offline_row(emu, record)
        del row["PROCESS_ID"], row["ERROR"]
        events.append(row)
    if clear:
        ids = {r.id for r in chosen}
        emu.offline.records[:] = [r for r in emu.offline.records if r.id not in ids]
        return _ok({"process_id": None, "events": events})
    new_process = process_id or secrets.token_hex(16)
    for record in chosen:
        record.process_id = new_process
    return _ok({"process_id": new_process if chosen else None, "events": events})


def _offline_process(params: Mapping[str, Any]) -> str:
    process_id = str(params.get("process_id", "") or "")
    if not process_id:
        raise CrmError("Required parameter process_id is not set", "ERROR_ARGUMENT")
    return process_id


def _string_set(value: Any) -> set[str] | None:
    if value is None:
        return None
    items = (
        value
        if isinstance(value, list)
        else list(value.values())
        if isinstance(value, dict)
        else [value]
    )
    return {str(v) for v in items}


@rest("event.offline.clear", scope="basic", oauth_only=True)
def event_offline_clear(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Delete records reserved under process_id (all, or the listed id/message_id)."""
    _require_admin(emu, ctx)
    process_id = _offline_process(params)
    ids = _string_set(params.get("id"))
    message_ids = _string_set(params.get("message_id"))

    def doomed(record: OfflineRecord) -> bool:
        if record.process_id != process_id:
            return False
        if ids is not None and str(record.id) not in ids:
            return False
        return message_ids is None or record.message_id in message_ids

    emu.offline.records[:] = [r for r in emu.offline.records if not doomed(r)]
    return _ok(True)


@rest("event.offline.error", scope="basic", oauth_only=True)
def event_offline_error(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Mark reserved records as errors (readable later with error=1)."""
    _require_admin(emu, ctx)
    process_id = _offline_process(params)
    message_ids = _string_set(params.get("message_id")) or set()
    for record in emu.offline.records:
        if record.process_id == process_id and record.message_id in message_ids:
            record.error = True
            record.process_id = ""
    return _ok(True)


@rest("event.offline.list", scope="basic", oauth_only=True)
def event_offline_list(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Read-only page of the queue with PROCESS_ID and ERROR."""
    _require_admin(emu, ctx)
    connector = str(params.get("auth_connector", "") or "")
    pool = [r for r in emu.offline.records if r.connector == connector]
    chosen = _offline_select(emu, params, pool, _OFFLINE_LIST_FIELDS, "ID")
    start = max(0, php_int(params.get("start", 0)))
    page_start = (start // PAGE_SIZE) * PAGE_SIZE
    page = chosen[page_start : page_start + PAGE_SIZE]
    next_start = page_start + PAGE_SIZE if page_start + PAGE_SIZE < len(chosen) else None
    return MethodOutcome([_offline_row(emu, r) for r in page], len(chosen), next_start)


# ---------------------------------------------------------------------- batch

_REFERENCE = re.compile(r"\$(result|next|total|time|error)((?:\[[^\]]*\])+)")
BATCH_LIMIT = 50


class _Unresolved(Exception):
    """A `$result[...]` path that does not lead anywhere (e.g. past the end of a short page)."""


def _resolve_reference(maps: Mapping[str, Mapping[str, Any]], kind: str, path: str) -> Any:
    node: Any = maps[kind]
    for segment in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            raise _Unresolved(f"${kind}{path}")
    return node


def _substitute(value: Any, maps: Mapping[str, Mapping[str, Any]], strict: bool) -> Any:
    """Put earlier results in place of references.

    With `strict`, a whole-value reference that does not resolve raises `_Unresolved`;
    otherwise it stands for the deepest node reached (the long-standing behaviour).
    """
    if isinstance(value, dict):
        return {k: _substitute(v, maps, strict) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, maps, strict) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    if whole:
        try:
            return _resolve_reference(maps, whole.group(1), whole.group(2))
        except _Unresolved:
            if strict:
                raise
            return _deepest(maps, whole.group(1), whole.group(2))

    def scalar(match: re.Match[str]) -> str:
        try:
            resolved = _resolve_reference(maps, match.group(1), match.group(2))
        except _Unresolved:
            return match.group(0)
        if isinstance(resolved, dict | list):
            return match.group(0)
        if isinstance(resolved, bool):
            return "1" if resolved else ""
        return "" if resolved is None else str(resolved)

    return _REFERENCE.sub(scalar, value)


def _deepest(maps: Mapping[str, Mapping[str, Any]], kind: str, path: str) -> Any:
    node: Any = maps[kind]
    for segment in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            break
    return node


@rest("batch", scope="basic")
def batch(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """Run up to 50 commands sequentially with $result[...] references."""
    cmd = params.get("cmd")
    was_list = isinstance(cmd, list)
    if isinstance(cmd, list):
        commands = [(str(i), v) for i, v in enumerate(cmd)]
    elif isinstance(cmd, dict):
        commands = [(str(k), v) for k, v in cmd.items()]
    else:
        commands = []
    halt = php_truthy(params.get("halt", 0))
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    maps = {"result": results, "error": errors, "total": totals, "next": nexts, "time": times}
    for index, (key, command) in enumerate(commands):
        if index >= BATCH_LIMIT:
            errors[key] = {
                "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": "Max batch length exceeded",
            }
            if halt:
                break
            continue
        method, _, query = str(command).partition("?")
        mode = emu.unresolved_references
        try:
            sub_params = _substitute(parse_str(query), maps, strict=mode != "keep")
        except _Unresolved as exc:
            # What a real portal does here is not documented: the emulator can do either.
            if mode == "empty":
                results[key] = []
                continue
            errors[key] = {
                "error": "INVALID_ARG_VALUE",
                "error_description": f"Reference {exc} is not resolved",
            }
            if halt:
                break
            continue
        try:
            result, total, next_start, time_block = emu.execute(
                ctx, method.strip(), sub_params, in_batch=True
            )
        except CrmError as exc:
            errors[key] = {"error": exc.code, "error_description": exc.description}
            if halt:
                break
            continue
        results[key] = result
        if total is not None:
            totals[key] = total
        if next_start is not None:
            nexts[key] = next_start
        times[key] = time_block

    def shaped(mapping: dict[str, Any]) -> Any:
        if was_list and mapping and list(mapping) == [str(i) for i in range(len(mapping))]:
            return list(mapping.values())
        return mapping

    return _ok(
        {
            "result": shaped(results),
            "result_error": shaped(errors),
            "result_total": shaped(totals),
            "result_next": shaped(nexts),
            "result_time": shaped(times),
        }
    )


def now_iso(emu: Bitrix24Emulator) -> str:
    """Portal-local now as REST renders it."""
    return format_datetime(datetime.fromtimestamp(emu.wall_clock(), emu.tz), emu.tz)
