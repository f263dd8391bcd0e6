"""PHP-style query strings (`fields[PHONE][0][VALUE]=1`) as the portal's `parse_str` reads them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import quote

__all__ = ["RawValue", "encode_query", "flatten"]


class RawValue(str):
    """A value written into the query as is: `$result[...]` references of batch commands."""

    __slots__ = ()


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        # PHP sees "1"/"" for booleans sent in a query string; the crm layer wants Y/N or 1/0.
        return "1" if value else "0"
    if isinstance(value, Enum):
        return _scalar(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Turn nested mappings/sequences into `(bracket-key, scalar)` pairs, in order."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        if not value and prefix:
            # PHP has no way to say "empty array" in a query; send an empty value instead.
            return [(prefix, "")]
        for key, item in value.items():
            name = f"{prefix}[{key}]" if prefix else str(key)
            pairs.extend(flatten(item, name))
    elif isinstance(value, list | tuple):
        if not value and prefix:
            return [(prefix, "")]
        for index, item in enumerate(value):
            pairs.extend(flatten(item, f"{prefix}[{index}]"))
    else:
        pairs.append((prefix, value))
    return pairs


def _encode_key(key: str) -> str:
    # Brackets stay readable; parse_str accepts them raw and percent-encoded alike.
    return quote(key, safe="[]")


def encode_query(params: Mapping[str, Any]) -> str:
    """Encode params as PHP's `http_build_query` would, url-encoding every value."""
    parts: list[str] = []
    for key, value in flatten(params):
        encoded = str(value) if isinstance(value, RawValue) else quote(_scalar(value), safe="")
        parts.append(f"{_encode_key(key)}={encoded}")
    return "&".join(parts)
