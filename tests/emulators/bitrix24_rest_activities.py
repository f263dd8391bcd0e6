"""Emulator handlers of to-do activities: `crm.activity.todo.*` and `crm.activity.*`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_php import lenient_param
from tests.emulators.bitrix24_rest import MethodOutcome, _entity_id, _list_query, _ok, _paged, rest

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


@rest("crm.activity.todo.add")
def todo_add(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """A to-do on a CRM object; `{"id": ...}`."""
    return _ok({"id": emu.add_todo(params, ctx.user_id)})


@rest("crm.activity.todo.updateDeadline")
def todo_update_deadline(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Move a to-do's deadline; `{"id": ...}`."""
    return _ok({"id": emu.update_todo_deadline(params, ctx.user_id)})


@rest("crm.activity.get")
def activity_get(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
    """One activity with every field."""
    return _ok(emu.get_activity(_entity_id(params), ctx.user_id))


@rest("crm.activity.update")
def activity_update(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """Change an activity's fields (completing it among them); true."""
    emu.update_activity(_entity_id(params), lenient_param(params, "fields"), ctx.user_id)
    return _ok(True)


@rest("crm.activity.list")
def activity_list(
    emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]
) -> MethodOutcome:
    """A page of activities with select/filter/order/start."""
    page = emu.activities_table.query(_list_query(params))
    return _paged(page.items, page.total, page.next)
