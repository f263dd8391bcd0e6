"""User-facing texts in English and Russian (Project Fluent), and the language picker.

Build `Translations.load()` once in the composition root and pass it down; pick a
`Translator` per user with `translations.for_language(code)`. Messages are valid
Telegram HTML: send them with parse_mode HTML and format them with `get_html`, which
escapes every string argument. Button labels and command descriptions are plain text.
"""

from bot.i18n.catalogue import (
    BOT_COMMANDS,
    DEFAULT_LANGUAGE,
    SUPPORTED,
    FluentArg,
    LocaleSyntaxError,
    MissingTranslationError,
    TranslationFormatError,
    Translations,
    Translator,
    language_of,
    read_locale_source,
)

__all__ = [
    "BOT_COMMANDS",
    "DEFAULT_LANGUAGE",
    "SUPPORTED",
    "FluentArg",
    "LocaleSyntaxError",
    "MissingTranslationError",
    "TranslationFormatError",
    "Translations",
    "Translator",
    "language_of",
    "read_locale_source",
]
