"""Fluent catalogues for every supported language and the per-language translator."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib import resources

from fluent.runtime import FluentBundle
from fluent.runtime.errors import FluentFormatError
from fluent.syntax import FluentParser
from fluent.syntax import ast as fluent_ast
from fluent.syntax.visitor import Visitor

log = logging.getLogger(__name__)

SUPPORTED: tuple[str, ...] = ("en", "ru")
DEFAULT_LANGUAGE = "en"

# Commands registered with setMyCommands, in the order Telegram shows them;
# each has a `command-<name>` message with its description.
BOT_COMMANDS: tuple[str, ...] = (
    "start",
    "menu",
    "new",
    "find",
    "my",
    "today",
    "report",
    "subscribe",
    "subscriptions",
    "status",
    "settings",
    "hours",
    "help",
    "cancel",
)

# What a message argument may be; numbers drive plural selectors, dates are formatted per locale.
FluentArg = str | int | float | Decimal | date | datetime


class MissingTranslationError(KeyError):
    """A message key is not in the catalogue of a language (raised only in strict mode)."""


class TranslationFormatError(ValueError):
    """A message could not be formatted with the given arguments (raised only in strict mode)."""


class LocaleSyntaxError(ValueError):
    """A locale file has entries Fluent could not parse."""


class _VariableCollector(Visitor):
    """Collects `$variable` names of a message, following references to other messages."""

    def __init__(self, messages: Mapping[str, fluent_ast.Message]) -> None:
        self._messages = messages
        self._seen: set[str] = set()
        self.names: set[str] = set()

    def visit_VariableReference(self, node: fluent_ast.VariableReference) -> None:
        self.names.add(node.id.name)

    def visit_MessageReference(self, node: fluent_ast.MessageReference) -> None:
        name = node.id.name
        if name in self._seen or name not in self._messages:
            return
        self._seen.add(name)
        self.visit(self._messages[name])

    def visit_TermReference(self, node: fluent_ast.TermReference) -> None:
        # A term's variables are its own parameters, filled from literals, never from callers.
        return


class Translator:
    """All texts of one language; formats a message by key with keyword arguments."""

    def __init__(self, language: str, source: str, *, strict: bool = False) -> None:
        # Without source positions: nothing here reports them, and they are a quarter of the
        # parsed catalogue's memory, kept for the whole run.
        resource = FluentParser(with_spans=False).parse(source)
        junk = [entry for entry in resource.body if isinstance(entry, fluent_ast.Junk)]
        if junk:
            first = junk[0]
            reason = first.annotations[0].message if first.annotations else "unparsable entry"
            excerpt = (first.content or "").strip()[:80]
            raise LocaleSyntaxError(
                f"{language}: {len(junk)} broken entries, first: {reason}: {excerpt!r}"
            )
        self.language = language
        self.strict = strict
        self._messages: dict[str, fluent_ast.Message] = {
            entry.id.name: entry
            for entry in resource.body
            if isinstance(entry, fluent_ast.Message)
        }
        # Telegram renders Unicode isolation marks as visible junk, so they stay off.
        self._bundle = FluentBundle([language], use_isolating=False)
        self._bundle.add_resource(resource)
        if strict:
            # Tests compile every message, so a catalogue Fluent cannot compile fails there;
            # a running bot compiles each message when first shown (most are rarely shown).
            for key in self._messages:
                self._bundle.get_message(key)
        self._warned: set[str] = set()

    def message_keys(self) -> frozenset[str]:
        """Every message key of this language."""
        return frozenset(self._messages)

    def has(self, key: str) -> bool:
        """Whether this language has a message with this key."""
        return key in self._messages

    def variables(self, key: str) -> frozenset[str]:
        """Names of the arguments a message uses (including messages it references)."""
        message = self._messages.get(key)
        if message is None:
            raise MissingTranslationError(f"{self.language}: no message {key!r}")
        collector = _VariableCollector(self._messages)
        collector.visit(message)
        return frozenset(collector.names)

    def get(self, key: str, /, **args: FluentArg) -> str:
        """Format a message as is; string arguments are not escaped (see `get_html`)."""
        if key not in self._messages:
            if self.strict:
                raise MissingTranslationError(f"{self.language}: no message {key!r}")
            self._warn_once(key, "missing message")
            return key
        message = self._bundle.get_message(key)
        if message.value is None:
            if self.strict:
                raise TranslationFormatError(f"{self.language}: message {key!r} has no value")
            self._warn_once(key, "message without value")
            return key
        text, errors = self._bundle.format_pattern(message.value, dict(args))
        if errors:
            details = "; ".join(_describe(error) for error in errors)
            if self.strict:
                raise TranslationFormatError(f"{self.language}: {key!r}: {details}")
            log.warning("i18n %s: cannot fully format %r: %s", self.language, key, details)
        return str(text)

    def get_html(self, key: str, /, **args: FluentArg) -> str:
        """Format a message for parse_mode HTML: every string argument is HTML-escaped first."""
        escaped = {
            name: html.escape(value) if isinstance(value, str) else value
            for name, value in args.items()
        }
        return self.get(key, **escaped)

    def command_descriptions(self) -> dict[str, str]:
        """Bot command name -> description, in `BOT_COMMANDS` order, for setMyCommands."""
        return {command: self.get(f"command-{command}") for command in BOT_COMMANDS}

    def _warn_once(self, key: str, problem: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning("i18n %s: %s %r, showing the key instead", self.language, problem, key)


def _describe(error: Exception) -> str:
    """An error for logs: Fluent's own errors name variables only; others may quote values."""
    if isinstance(error, FluentFormatError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


def language_of(code: str | None) -> str:
    """The supported language for a Telegram `language_code` ("ru-RU" -> "ru"), else English."""
    if not code:
        return DEFAULT_LANGUAGE
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED else DEFAULT_LANGUAGE


def read_locale_source(language: str) -> str:
    """Every packaged locale file of a language, `bot/i18n/locales/<language>/*.ftl`, joined.

    Each feature keeps its texts in a file of its own (core, leads, notifications...), in the
    same name in every language.
    """
    folder = resources.files("bot.i18n").joinpath("locales").joinpath(language)
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".ftl")),
        key=lambda entry: entry.name,
    )
    return "\n\n".join(entry.read_text(encoding="utf-8") for entry in files)


class Translations:
    """The catalogue of every supported language, loaded once in the composition root."""

    def __init__(self, translators: Mapping[str, Translator]) -> None:
        missing = [language for language in SUPPORTED if language not in translators]
        if missing:
            raise ValueError(f"no catalogue for languages: {', '.join(missing)}")
        self._translators = dict(translators)

    @classmethod
    def load(cls, *, strict: bool = False) -> Translations:
        """Read the packaged locale files; `strict` makes missing keys and bad args raise."""
        return cls(
            {
                language: Translator(language, read_locale_source(language), strict=strict)
                for language in SUPPORTED
            }
        )

    @property
    def languages(self) -> tuple[str, ...]:
        """Supported language codes, English first."""
        return SUPPORTED

    def for_language(self, code: str | None) -> Translator:
        """The translator for a Telegram `language_code` or a stored setting; English otherwise."""
        return self._translators[language_of(code)]
