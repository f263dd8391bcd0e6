"""Emulator handlers of dictionaries, settings, contacts, deals, duplicates, timeline, products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    PAGE_SIZE,
    ColumnInfo,
    CrmError,
    compile_filter,
    digits,
    match_term,
)
from tests.emulators.bitrix24_php import (
    lenient_param,
    php_int,
)

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


from tests.emulators.bitrix24_rest import (
    MethodOutcome,
    _array_param,
    _entity_id,
    _list_query,
    _ok,
    _paged,
    field_sort_key,
    rest,
)

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
                    key=field_sort_key(upper, columns[upper].kind == "num"),
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
