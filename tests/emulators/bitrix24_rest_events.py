"""Emulator handlers of event.* (bind, unbind, get, offline queue)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    PAGE_SIZE,
    ColumnInfo,
    CrmError,
    compile_filter,
    format_datetime,
    match_term,
    split_filter_key,
)
from tests.emulators.bitrix24_events import KNOWN_EVENTS, OfflineRecord
from tests.emulators.bitrix24_php import (
    php_int,
    php_truthy,
)

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


from tests.emulators.bitrix24_rest import (
    MethodOutcome,
    _ok,
    rest,
)

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
