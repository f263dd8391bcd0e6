"""Emulator handlers of lead user fields and the lead card layout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    ColumnInfo,
    CrmError,
    compile_filter,
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
    _ok,
    field_sort_key,
    rest,
)

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
                    key=field_sort_key(upper, columns[upper].kind == "num"),
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
