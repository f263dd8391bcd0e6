"""Messages format the same with the lean locale as with Babel's whole one, and it stays small."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from fluent.runtime import FluentBundle
from fluent.syntax import FluentParser

from bot.i18n import SUPPORTED, Translations, read_locale_source
from bot.i18n.cldr import LeanLocale, lean_locale
from tests.unit.test_i18n_catalogue import SAMPLE_ARGS

NUMBERS: list[float | Decimal] = [
    0,
    1,
    2,
    3,
    4,
    5,
    11,
    12,
    14,
    21,
    22,
    25,
    101,
    111,
    1234,
    1234567,
    1.5,
    Decimal("2.25"),
]


@pytest.mark.parametrize("language", SUPPORTED)
def test_plural_forms_numbers_and_dates_match_babels_whole_locale(language: str) -> None:
    lean, whole = lean_locale(language), Locale.parse(language)
    assert isinstance(lean, LeanLocale)
    for n in [*range(250), 1.5, 2.0, 0.25]:
        assert lean.plural_form(n) == whole.plural_form(n), n
    for n in NUMBERS:
        assert format_decimal(n, locale=lean) == format_decimal(n, locale=whole)
        assert format_percent(n, locale=lean) == format_percent(n, locale=whole)
    for style in ("short", "medium", "long"):
        day = date(2026, 3, 1)
        assert format_date(day, style, locale=lean) == format_date(day, style, locale=whole)


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_message_formats_as_with_babels_whole_locale(language: str) -> None:
    translator = Translations.load(strict=True).for_language(language)
    whole = FluentBundle([language], use_isolating=False)
    whole.add_resource(FluentParser(with_spans=False).parse(read_locale_source(language)))
    for key in sorted(translator.message_keys()):
        args = {name: SAMPLE_ARGS[name] for name in translator.variables(key)}
        for number in (1, 3, 5, 21, 1234567):
            numeric = {name: number if isinstance(v, int) else v for name, v in args.items()}
            pattern = whole.get_message(key).value
            assert pattern is not None, key
            expected, errors = whole.format_pattern(pattern, dict(numeric))
            assert not errors, key
            assert translator.get(key, **numeric) == expected, key


def test_an_entry_not_kept_is_read_from_babel_when_asked_for() -> None:
    russian = lean_locale("ru")
    assert russian.territories["RU"] == "Россия"
    assert russian.currency_symbols["RUB"] == Locale.parse("ru").currency_symbols["RUB"]
    with pytest.raises(KeyError):
        russian._data["no-such-entry"]


def test_a_code_with_a_territory_gets_babels_whole_locale() -> None:
    brazil = lean_locale("pt_BR")
    assert not isinstance(brazil, LeanLocale)
    assert brazil.territory == "BR"


_HELD = """
import gc, json, tracemalloc
from datetime import date
tracemalloc.start()
from bot.i18n import Translations
translations = Translations.load()
for language in translations.languages:
    translator = translations.for_language(language)
    translator.get("lead-title", id=1234567)
    translator.get("admin-binding-line", name="Ann", role="rep", date=date(2026, 3, 1))
gc.collect()
snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/babel/*")])
print(json.dumps(sum(stat.size for stat in snapshot.statistics("filename"))))
"""


def test_formatting_both_languages_keeps_little_of_babels_data() -> None:
    # A fresh interpreter: Babel's own caches in this one may hold what other tests loaded.
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _HELD], capture_output=True, text=True, check=True, timeout=120
    )
    held = json.loads(done.stdout.strip().splitlines()[-1])
    # Babel's whole English and Russian data and its global data: 5.3 MB.
    assert held < 300_000, held
