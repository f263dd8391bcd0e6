"""The REST registry of the Bitrix24 emulator: handlers by lower-case method name, and the
helpers every area of handlers shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    CrmError,
    ListQuery,
    format_datetime,
)
from tests.emulators.bitrix24_php import (
    lenient_param,
    php_int,
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


def now_iso(emu: Bitrix24Emulator) -> str:
    """Portal-local now as REST renders it."""
    return format_datetime(datetime.fromtimestamp(emu.wall_clock(), emu.tz), emu.tz)


def field_sort_key(name: str, numeric: bool) -> Callable[[Mapping[str, Any]], Any]:
    """Sort rows by one column, as a number or as text."""

    def key(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        return php_int(value) if numeric else str(value or "")

    return key
