"""The part of Babel's CLDR data that formatting our messages reads, kept without the rest.

Fluent formats numbers and chooses plural forms through a Babel `Locale`. Babel loads all of a
language's CLDR data for that (names of every language, territory, currency, time zone...), and
its global data when a locale is parsed: 5.3 MB held for the whole run for English and
Russian, of which messages read a few entries. `lean_locale` reads a language's data once,
keeps the entries plural rules and number and date formatting read, and lets the rest go. Any
other entry is still there when asked for: it is read from Babel then, and kept.
"""

from __future__ import annotations

import pickle
from typing import Any

from babel import Locale, UnknownLocaleError, localedata
from fluent.runtime import FluentBundle

MESSAGE_ENTRIES: tuple[str, ...] = (
    "plural_form",
    "number_symbols",
    "default_numbering_system",
    "decimal_formats",
    "percent_formats",
    "currency_formats",
    "date_formats",
    "months",
)
"""What a plural selector, a number argument or `NUMBER()`, and a date argument read."""


class _Entries(dict[str | int | None, Any]):
    """Some of a language's CLDR entries; one not kept is read from Babel when first asked for."""

    def __init__(self, identifier: str, entries: dict[str | int | None, Any]) -> None:
        super().__init__(entries)
        self._identifier = identifier

    def __missing__(self, key: str | int | None) -> Any:
        if not isinstance(key, str):
            raise KeyError(key)
        value = localedata.load(self._identifier)[key]  # KeyError when CLDR has no such entry
        localedata.clear_caches()
        self[key] = value
        return value


class LeanLocale(Locale):
    """A Babel locale that holds only the CLDR entries it was given (others on demand)."""

    def __init__(self, language: str, entries: _Entries) -> None:
        super().__init__(language)
        self._entries = localedata.LocaleDataDict(entries)

    @property
    def _data(self) -> localedata.LocaleDataDict:
        return self._entries


def _read(identifier: str) -> dict[str, Any]:
    with open(localedata.resolve_locale_filename(identifier), "rb") as data:
        loaded: dict[str, Any] = pickle.load(data)  # noqa: S301 - Babel's own packaged data
    return loaded


def lean_locale(language: str) -> Locale:
    """The locale of a plain language code ("en", "ru") with the entries messages read.

    A code with a territory or script ("pt_BR") inherits by rules in Babel's global data: it
    gets Babel's own full locale.
    """
    if "_" in language or "-" in language:
        return Locale.parse(language.replace("-", "_"))
    if not localedata.exists(language):
        raise UnknownLocaleError(language)
    merged = _read("root")
    localedata.merge(merged, _read(language))
    kept: dict[str | int | None, Any] = {
        key: merged[key] for key in MESSAGE_ENTRIES if key in merged
    }
    # Symbols of the language's own digits and of Latin ones (Babel's default), not of all 12
    # numbering systems CLDR describes for Russian.
    systems = {kept.get("default_numbering_system", "latn"), "latn"}
    symbols = kept.get("number_symbols", {})
    kept["number_symbols"] = {name: symbols[name] for name in systems if name in symbols}
    return LeanLocale(language, _Entries(language, kept))


class LeanBundle(FluentBundle):
    """A Fluent bundle whose Babel locale holds only what its messages read."""

    def _get_babel_locale(self) -> Locale:
        return lean_locale(self.locales[0])
