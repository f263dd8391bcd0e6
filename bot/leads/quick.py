"""Quick capture: what a forwarded message or a shared contact offers the form.

The result is a prefill (field code -> text as a person would type it); the form reads it
with its own parsers, so whatever does not fit a field is dropped there, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import phonenumbers

from bot.leads.form import (
    FieldKind,
    FormField,
    FormValue,
    InputRejected,
    parse_email,
    prefill_values,
)

_EMAIL_IN_TEXT = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}"
)
MAX_TEXT_SCANNED = 4096
"""Characters of a message searched for phones and e-mails (a forward is a short message)."""


def split_name(full_name: str) -> tuple[str, str]:
    """First name and the rest ("Анна К." -> ("Анна", "К.")); one word is a first name."""
    parts = full_name.split()
    if not parts:
        return "", ""
    return parts[0], " ".join(parts[1:])


def phones_in(text: str, region: str) -> list[str]:
    """Valid phone numbers written in the text, in E.164, in order, without repeats."""
    found: list[str] = []
    for match in phonenumbers.PhoneNumberMatcher(text[:MAX_TEXT_SCANNED], region):
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if number not in found:
            found.append(number)
    return found


def emails_in(text: str) -> list[str]:
    """E-mail addresses written in the text (as the form reads them), in order, no repeats."""
    found: list[str] = []
    for match in _EMAIL_IN_TEXT.finditer(text[:MAX_TEXT_SCANNED]):
        try:
            email = parse_email(match.group(0).rstrip("."))
        except InputRejected:
            continue
        if email not in found:
            found.append(email)
    return found


def forwarded_prefill(
    *, first_name: str, last_name: str, text: str, region: str
) -> dict[str, str]:
    """The fields a forwarded message fills: the sender's name (split into first and last),
    the first phone and e-mail written in it, and the whole text as the comment."""
    prefill: dict[str, str] = {}
    if not last_name:
        first_name, last_name = split_name(first_name)
    if first_name.strip():
        prefill["NAME"] = first_name.strip()
    if last_name.strip():
        prefill["LAST_NAME"] = last_name.strip()
    if text.strip():
        prefill["COMMENTS"] = text
        phones = phones_in(text, region)
        if phones:
            prefill["PHONE"] = phones[0]
        emails = emails_in(text)
        if emails:
            prefill["EMAIL"] = emails[0]
    return prefill


def merge_prefill(
    form: Sequence[FormField],
    values: Mapping[str, Any],
    prefill: Mapping[str, str],
    region: str,
) -> tuple[dict[str, FormValue], list[str]]:
    """The draft's answers with a new prefill added: empty fields are filled, a long text
    gets the new text appended, other answers the rep gave stay. Returns the answers and
    the codes that changed."""
    incoming = prefill_values(form, prefill, region)
    merged: dict[str, FormValue] = dict(values)
    changed: list[str] = []
    by_code = {field.code: field for field in form}
    for code, value in incoming.items():
        current = merged.get(code)
        if current is None:
            merged[code] = value
            changed.append(code)
        elif (
            by_code[code].kind is FieldKind.TEXT
            and by_code[code].multiline
            and isinstance(current, str)
            and isinstance(value, str)
            and value not in current
        ):
            joined = f"{current}\n\n{value}"
            if len(joined) <= by_code[code].max_length:
                merged[code] = joined
                changed.append(code)
    return merged, changed
