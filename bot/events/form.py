"""PHP-style form bodies (`auth[domain]=...&data[FIELDS][ID]=5`) read into nested dicts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
MAX_FIELDS = 200
MAX_DEPTH = 5


class MalformedFormError(ValueError):
    """The body is not a PHP-style form the portal would send."""


def parse_php_form(body: str) -> dict[str, Any]:
    """Decode a form body with bracket keys (raw or percent-encoded) into nested dicts.

    `a[b][c]=1` becomes `{"a": {"b": {"c": "1"}}}`; an empty `[]` appends a numbered key.
    Raises MalformedFormError for a key that is not `name[part]...` or a shape conflict.
    """
    try:
        pairs = parse_qsl(
            body, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except ValueError as exc:
        raise MalformedFormError("too many fields") from exc
    result: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise MalformedFormError("a key is not name[part]...")
        parts = [match.group(1), *_PART.findall(match.group(2))]
        if len(parts) > MAX_DEPTH:
            raise MalformedFormError("keys nest too deep")
        node = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            name = part if part != "" else str(len(node))
            if last:
                if isinstance(node.get(name), dict):
                    raise MalformedFormError("a key is both a value and a group")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise MalformedFormError("a key is both a value and a group")
                node = child
    return result
