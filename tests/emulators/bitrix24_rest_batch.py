"""Emulator handler of batch: up to 50 commands with $result[...] references."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.emulators.bitrix24_crm import (
    CrmError,
)
from tests.emulators.bitrix24_php import (
    parse_str,
    php_truthy,
)

if TYPE_CHECKING:
    from tests.emulators.bitrix24 import AuthContext, Bitrix24Emulator


from tests.emulators.bitrix24_rest import (
    MethodOutcome,
    _ok,
    rest,
)

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
    """Run up to 50 commands sequentially with $result[...] references.

    The commands of a batch that only reads share `emu.batch_memo` while they run (nothing else
    runs meanwhile): 50 pages of one `user.get` filter then sort the users once, as a portal
    reading its index would, not fifty times (with 10,000 users that held the emulator's loop
    for a third of a second), and a keyset page asked for again (the pages after a short one,
    whose references resolve to the same filter) is answered from the first. A batch that also
    writes shares nothing: what a command reads may have changed since.
    """
    emu.batch_memo = {} if _reads_only(params) else None
    try:
        return _run_batch(emu, ctx, params)
    finally:
        emu.batch_memo = None


_READS = (".list", ".get", ".fields")


def _reads_only(params: Mapping[str, Any]) -> bool:
    """Whether every command of a batch is a read (`*.list`, `*.get`, `*.fields`)."""
    cmd = params.get("cmd")
    values = cmd.values() if isinstance(cmd, dict) else cmd if isinstance(cmd, list) else []
    return all(str(v).split("?", 1)[0].strip().lower().endswith(_READS) for v in values)


def _run_batch(emu: Bitrix24Emulator, ctx: AuthContext, params: dict[str, Any]) -> MethodOutcome:
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
