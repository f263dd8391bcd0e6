"""Strict JSON for stored values: whatever is written must read back equal, or fail loudly."""

from __future__ import annotations

import json
import math
from typing import Any


class NotJsonError(TypeError):
    """A value cannot be stored as JSON without changing on the way back."""


def encode_json(value: object, *, what: str = "value") -> str:
    """Serialise `value` to compact JSON after checking it round-trips exactly.

    Plain `json.dumps` silently turns tuples into lists and int keys into strings and writes
    NaN that other readers reject; here each of those raises `NotJsonError` naming the path.
    """
    _check(value, what)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode_json(text: str) -> Any:
    """Parse a stored JSON text."""
    return json.loads(text)


def _check(value: object, path: str) -> None:
    # bool is a subclass of int, so it passes here as it should.
    if value is None or isinstance(value, str | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJsonError(f"{path}: non-finite float is not JSON")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJsonError(
                    f"{path}: key of type {type(key).__name__} is not JSON; use str keys"
                )
            # Only identifier-like keys go into the message: a key may be user data.
            shown = repr(key) if key.isidentifier() else "..."
            _check(item, f"{path}[{shown}]")
        return
    raise NotJsonError(f"{path}: {type(value).__name__} is not JSON; store plain data")
