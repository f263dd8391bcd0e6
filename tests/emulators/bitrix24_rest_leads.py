"""Emulator handlers of crm.lead.*: leads, product rows, lead-contact bindings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    CrmError,
)
from tests.emulators.bitrix24_php import (
    lenient_param,
    php_float,
    php_int,
)

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


from tests.emulators.bitrix24_rest import (
    MethodOutcome,
    _entity_id,
    _list_query,
    _ok,
    _paged,
    rest,
)

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
    query = _list_query(params)
    memo = emu.batch_memo
    if memo is None or query.start >= 0:
        # A counting page is never shared: its matches cost server time (`rows_counted`).
        page = emu.leads_table.query(query)
    else:
        key = ("crm.lead.list", json.dumps(params, sort_keys=True, default=str))
        if key not in memo:
            memo[key] = emu.leads_table.query(query)
        page = memo[key]
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
