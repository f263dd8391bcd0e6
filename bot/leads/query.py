"""What a user typed into /find or an inline query, read as one kind of lead lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from phonenumbers import PhoneMetadata

from bot.phones import normalize_phone

MIN_QUERY_LENGTH = 2
MIN_PHONE_DIGITS = 3
MAX_QUERY_LENGTH = 100

_ID = re.compile(r"^#\s*(\d{1,10})$")
_PHONE = re.compile(r"^\+?[\d\s().\-]+$")
_EMAIL = re.compile(r"^[^\s@]*@[^\s@]*$")


class QueryKind(StrEnum):
    """How a query is looked up in the portal."""

    ID = "id"
    PHONE = "phone"
    EMAIL = "email"
    TEXT = "text"


@dataclass(frozen=True)
class LeadQuery:
    """A parsed lookup: the portal filter values and what a found lead must contain."""

    kind: QueryKind
    text: str
    lead_id: int | None = None
    # Values for the portal's PHONE filter, which is a prefix match on the stored value.
    phone_prefixes: tuple[str, ...] = ()
    # Digits a stored phone must contain to count as a hit (checked on our side too).
    phone_digits: str = ""
    # The whole number in E.164 when one was typed: the portal's duplicate index finds it
    # in whatever format it was stored.
    full_phone: str | None = None
    email: str = ""
    words: tuple[str, ...] = ()

    @property
    def portal_word(self) -> str:
        """The word sent to the portal's substring filters: the longest one."""
        return max(self.words, key=len) if self.words else ""


def digits_of(value: str) -> str:
    """The digits of a phone number as written."""
    return "".join(ch for ch in value if ch.isdigit())


def _phone_query(text: str, region: str) -> LeadQuery:
    digits = digits_of(text)
    metadata = PhoneMetadata.metadata_for_region(region.upper())
    country = str(metadata.country_code) if metadata and metadata.country_code else ""
    trunk = (metadata.national_prefix or "") if metadata else ""
    prefixes: list[str] = []
    core = digits
    if text.startswith("+"):
        prefixes = ["+" + digits, digits]
    elif trunk and digits.startswith(trunk) and len(digits) > len(trunk):
        core = digits[len(trunk) :]
        prefixes = ["+" + country + core, digits]
    elif country and digits.startswith(country):
        prefixes = ["+" + digits, "+" + country + digits, digits]
    elif country:
        prefixes = ["+" + country + digits, digits]
    else:
        prefixes = [digits]
    unique = tuple(dict.fromkeys(prefixes))
    full = normalize_phone(text, region) if len(digits) >= 10 else None
    return LeadQuery(
        kind=QueryKind.PHONE,
        text=text,
        phone_prefixes=unique,
        phone_digits=core,
        full_phone=full,
    )


def parse_query(raw: str, region: str) -> LeadQuery | None:
    """Read a query; None when it is too short to look up.

    `#123` is a lead id; digits with phone punctuation are a phone fragment (its start: the
    portal matches phones by prefix); text with `@` is an e-mail (its start); anything else
    is a name, last name, company or title fragment.
    """
    text = " ".join(raw.split())[:MAX_QUERY_LENGTH]
    if len(text) < MIN_QUERY_LENGTH:
        return None
    match = _ID.match(text)
    if match:
        lead_id = int(match.group(1))
        return LeadQuery(kind=QueryKind.ID, text=text, lead_id=lead_id) if lead_id else None
    if _PHONE.match(text):
        if len(digits_of(text)) < MIN_PHONE_DIGITS:
            return None
        return _phone_query(text, region)
    if _EMAIL.match(text):
        return LeadQuery(kind=QueryKind.EMAIL, text=text, email=text.casefold())
    words = tuple(w for w in text.casefold().split() if w)
    if not any(len(w) >= MIN_QUERY_LENGTH for w in words):
        return None
    return LeadQuery(kind=QueryKind.TEXT, text=text, words=words)
