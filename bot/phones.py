"""Phone numbers: one normal form (E.164) for everything the bot compares or stores."""

from __future__ import annotations

import phonenumbers


def normalize_phone(raw: str, default_region: str) -> str | None:
    """E.164 form of `raw` (`+79161234567`), or None when it is not a possible number.

    Numbers without a country code are read in `default_region` (an ISO 3166 code).
    """
    text = raw.strip()
    if not text or len(text) > 64:
        return None
    try:
        parsed = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_contact_phone(raw: str, default_region: str) -> str | None:
    """E.164 form of a phone from a shared Telegram contact (sent without the leading `+`)."""
    text = raw.strip()
    if text and text[0].isdigit() and len(text) > 10:
        text = "+" + text
    return normalize_phone(text, default_region)
