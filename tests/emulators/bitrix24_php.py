"""PHP-flavoured helpers for the Bitrix24 emulator: parse_str, http_build_query, truthiness."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

_BRACKET_SEGMENT = re.compile(r"\[([^\]]*)\]")


def _insert(root: dict[str, Any], key: str, value: Any) -> None:
    """Insert one `a[b][]=v` pair into a nested dict the way PHP does."""
    head, sep, rest = key.partition("[")
    if not head:
        return
    segments: list[str] = []
    if sep:
        rest = "[" + rest
        pos = 0
        while pos < len(rest):
            match = _BRACKET_SEGMENT.match(rest, pos)
            if match is None:
                # PHP ignores trailing garbage after the last closed bracket.
                break
            segments.append(match.group(1))
            pos = match.end()
    node = root
    path = [head, *segments]
    for index, segment in enumerate(path):
        last = index == len(path) - 1
        if segment == "":
            ints = [int(k) for k in node if _is_int_key(k)]
            segment = str(max(ints) + 1 if ints else 0)
        if last:
            node[segment] = value
            return
        child = node.get(segment)
        if not isinstance(child, dict):
            child = {}
            node[segment] = child
        node = child


def _is_int_key(key: str) -> bool:
    return key.isdigit() or (key.startswith("-") and key[1:].isdigit())


def listify(value: Any) -> Any:
    """Turn dicts keyed "0".."n-1" (in order) into lists, recursively, like PHP arrays in JSON."""
    if isinstance(value, dict):
        converted = {k: listify(v) for k, v in value.items()}
        keys = list(converted)
        if keys and keys == [str(i) for i in range(len(keys))]:
            return [converted[k] for k in keys]
        return converted
    if isinstance(value, list):
        return [listify(v) for v in value]
    return value


def parse_pairs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Build PHP-style nested params from decoded (key, value) pairs."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, key, value)
    result = listify(root)
    return result if isinstance(result, dict) else {}


def parse_str(query: str) -> dict[str, Any]:
    """Parse a query string the way PHP's parse_str does (bracket nesting, `+` as space)."""
    pairs: list[tuple[str, str]] = []
    for chunk in query.split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return parse_pairs(pairs)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{prefix}[{k}]" if prefix else str(k), v, out)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]" if prefix else str(i), v, out)
    elif value is None:
        out.append((prefix, ""))
    elif isinstance(value, bool):
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))


def build_pairs(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested data into PHP bracket (key, value) pairs, unencoded."""
    out: list[tuple[str, str]] = []
    _flatten("", data, out)
    return out


def http_build_query(data: Mapping[str, Any]) -> str:
    """Encode nested data like PHP's http_build_query (brackets percent-encoded)."""
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in build_pairs(data))


def php_truthy(value: Any) -> bool:
    """PHP truthiness: 0, "0", "", false, null and empty arrays are false; "false" is true."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, list | dict):
        return len(value) > 0
    return True


def php_int(value: Any) -> int:
    """PHP (int) cast: leading numeric part of a string, 0 otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        match = re.match(r"\s*([+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)", value)
        return int(float(match.group(1))) if match else 0
    if isinstance(value, list | dict):
        return 1 if value else 0
    return 0


def php_float(value: Any) -> float:
    """PHP (float) cast."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.match(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)", value)
        return float(match.group(1)) if match else 0.0
    return 0.0


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Values `php_json` hands on as they are, without a call for each."""


def php_json(value: Any) -> Any:
    """Mirror PHP json_encode of arrays: an empty map becomes `[]`.

    For `json.dumps` right away: what holds no empty map is handed on as it is, not copied (a
    batch answer of 2,500 leads is some 150,000 values, and copying each held up the
    emulators' loop for 70 ms)."""
    if type(value) is dict:
        return _php_parts(value, value.items(), dict) if value else []
    if isinstance(value, dict):  # a subclass (a stored row): as a plain map
        return php_json(dict(value))
    if isinstance(value, list | tuple):
        return _php_parts(value, enumerate(value), list)
    return value


def _php_parts(value: Any, parts: Iterable[tuple[Any, Any]], copy_of: Callable[[Any], Any]) -> Any:
    """`value` with each of its `(key, item)` parts through `php_json`; copied (`copy_of`) only
    when one of them changes."""
    copy = None
    for key, item in parts:
        if type(item) in _PLAIN:
            continue
        converted = php_json(item)
        if converted is not item:
            if copy is None:
                copy = copy_of(value)
            copy[key] = converted
    return value if copy is None else copy


def lenient_param(params: Mapping[str, Any], name: str) -> Any:
    """Look a parameter up as CCrmRestHelper does: as given, UPPER, lower, Capitalized, arX."""
    capitalized = name[:1].upper() + name[1:].lower()
    for candidate in (name, name.upper(), name.lower(), capitalized, "ar" + capitalized):
        if candidate in params:
            return params[candidate]
    return None
