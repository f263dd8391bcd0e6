"""The few coercions every reader of raw portal answers needs, in one place.

The portal sends ids as strings (`"123"`), "nothing" as `null`, `""`, `[]` or `{}`, and a PHP
array with keys 0..n-1 as a JSON list but any other array as an object. Typed models handle
that for whole entities; these helpers are for the loose values left over (batch results,
event payloads, ids in links).
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_list", "int_or_none", "yes_no"]


def int_or_none(value: Any) -> int | None:
    """An id or a count as an int; None for blanks and anything that is not a whole number."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_list(value: Any) -> list[Any]:
    """A list answer as a list: an object's values in order; anything else is empty."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def yes_no(value: bool | None) -> str | None:
    """A flag as the portal's "Y"/"N"; None stays unset."""
    if value is None:
        return None
    return "Y" if value else "N"
