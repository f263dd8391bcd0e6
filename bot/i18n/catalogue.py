"""Fluent catalogues for every supported language and the per-language translator."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib import resources

from fluent.runtime.errors import FluentFormatError
from fluent.syntax import FluentParser
from fluent.syntax import ast as fluent_ast
from fluent.syntax.visitor import Visitor

from bot.i18n.cldr import LeanBundle

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


_ENTRY_START = re.compile(r"^-?[A-Za-z][A-Za-z0-9_-]*[ \t]*=", re.MULTILINE)
"""A message or term begins at the start of a line; everything else of it is indented."""
_COMMENT_START = re.compile(r"^#", re.MULTILINE)
_SAME_ENTRY_IGNORES = ["span", "comment"]


def index_entries(source: str) -> dict[str, str]:
    """Each message's (and term's, as `-name`) own source text, by its id; the first wins.

    Fluent's syntax makes this a matter of lines: an entry starts with its id at the start of a
    line, its continuation lines are indented or are a lone `}`, `[`, `*` or `.`, and a comment
    (`#` at the start of a line) ends it.
    """
    starts = [match.start() for match in _ENTRY_START.finditer(source)]
    entries: dict[str, str] = {}
    for start, end in zip(starts, [*starts[1:], len(source)], strict=True):
        text = source[start:end]
        comment = _COMMENT_START.search(text)
        if comment is not None:
            text = text[: comment.start()]
        name = text.split("=", 1)[0].strip()
        entries.setdefault(name, text)
    return entries


class _VariableCollector(Visitor):
    """Variable names a message uses, following the messages it references."""

    def __init__(self, lookup: Callable[[str], fluent_ast.Message | None]) -> None:
        self._lookup = lookup
        self._seen: set[str] = set()
        self.names: set[str] = set()

    def visit_VariableReference(self, node: fluent_ast.VariableReference) -> None:
        self.names.add(node.id.name)

    def visit_MessageReference(self, node: fluent_ast.MessageReference) -> None:
        name = node.id.name
        if name in self._seen:
            return
        self._seen.add(name)
        message = self._lookup(name)
        if message is not None:
            self.visit(message)

    def visit_TermReference(self, node: fluent_ast.TermReference) -> None:
        # A term's variables are its own parameters, filled from literals, never from callers.
        return


class _References(Visitor):
    """Messages and terms an entry refers to (terms as `-name`)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_MessageReference(self, node: fluent_ast.MessageReference) -> None:
        self.names.add(node.id.name)

    def visit_TermReference(self, node: fluent_ast.TermReference) -> None:
        self.names.add(f"-{node.id.name}")


class Translator:
    """All texts of one language; formats a message by key with keyword arguments.

    A running bot parses a message when it is first shown: most are rarely shown, and parsing
    both languages' catalogues took 0.3 CPU seconds at every start and held 1.5 MB more.
    Strict mode (the tests) parses the whole catalogue at once, refuses any entry Fluent cannot
    parse, checks that each entry read on its own is the entry of the whole parse, and
    compiles every message.
    """

    def __init__(self, language: str, source: str, *, strict: bool = False) -> None:
        self.language = language
        self.strict = strict
        self._sources = index_entries(source)
        self._entries: dict[str, fluent_ast.Message | fluent_ast.Term] = {}
        self._variables: dict[str, frozenset[str]] = {}
        self._unusable: set[str] = set()
        """Entries Fluent could not parse on their own: not parsed again at every use."""
        # Telegram renders Unicode isolation marks as visible junk, so they stay off.
        self._bundle = LeanBundle([language], use_isolating=False)
        self._warned: set[str] = set()
        if strict:
            self._load_all(source)

    def _load_all(self, source: str) -> None:
        # Without source positions: nothing here reports them.
        resource = FluentParser(with_spans=False).parse(source)
        junk = [entry for entry in resource.body if isinstance(entry, fluent_ast.Junk)]
        if junk:
            first = junk[0]
            reason = first.annotations[0].message if first.annotations else "unparsable entry"
            excerpt = (first.content or "").strip()[:80]
            raise LocaleSyntaxError(
                f"{self.language}: {len(junk)} broken entries, first: {reason}: {excerpt!r}"
            )
        for entry in resource.body:
            if not isinstance(entry, fluent_ast.Message | fluent_ast.Term):
                continue
            name = f"-{entry.id.name}" if isinstance(entry, fluent_ast.Term) else entry.id.name
            if name in self._entries:
                continue
            alone = self._parse(name)
            if alone is None or not alone.equals(entry, ignored_fields=_SAME_ENTRY_IGNORES):
                raise LocaleSyntaxError(f"{self.language}: {name!r} read alone differs")
            self._add(name, entry)
        if self._entries.keys() != self._sources.keys():
            extra = sorted(self._sources.keys() ^ self._entries.keys())
            raise LocaleSyntaxError(f"{self.language}: entries found by lines only: {extra}")
        for key in self.message_keys():
            self._bundle.get_message(key)

    def _parse(self, name: str) -> fluent_ast.Message | fluent_ast.Term | None:
        """One entry parsed from its own source text (None when it is not one clean entry)."""
        text = self._sources.get(name)
        if text is None:
            return None
        body = FluentParser(with_spans=False).parse(text).body
        entries = [entry for entry in body if not isinstance(entry, fluent_ast.BaseComment)]
        if len(entries) != 1 or not isinstance(entries[0], fluent_ast.Message | fluent_ast.Term):
            return None
        return entries[0]

    def _add(self, name: str, entry: fluent_ast.Message | fluent_ast.Term) -> None:
        self._entries[name] = entry
        self._bundle.add_resource(fluent_ast.Resource([entry]))

    def _entry(self, name: str) -> fluent_ast.Message | fluent_ast.Term | None:
        """A parsed entry, with every entry it refers to in the bundle (None if unusable)."""
        entry = self._entries.get(name)
        if entry is not None or name in self._unusable:
            return entry
        entry = self._parse(name)
        if entry is None:
            self._unusable.add(name)
            return None
        self._add(name, entry)
        references = _References()
        references.visit(entry)
        for reference in references.names:
            self._entry(reference)
        return entry

    def _message(self, key: str) -> fluent_ast.Message | None:
        entry = self._entry(key)
        return entry if isinstance(entry, fluent_ast.Message) else None

    def message_keys(self) -> frozenset[str]:
        """Every message key of this language."""
        return frozenset(name for name in self._sources if not name.startswith("-"))

    def has(self, key: str) -> bool:
        """Whether this language has a message with this key."""
        return not key.startswith("-") and key in self._sources

    def variables(self, key: str) -> frozenset[str]:
        """Names of the arguments a message uses (including messages it references)."""
        known = self._variables.get(key)
        if known is not None:
            return known
        message = self._message(key)
        if message is None:
            if self.strict or not self.has(key):
                raise MissingTranslationError(f"{self.language}: no message {key!r}")
            return frozenset()  # unparsable: `get` shows its key
        collector = _VariableCollector(self._message)
        collector.visit(message)
        self._variables[key] = frozenset(collector.names)
        return self._variables[key]

    def get(self, key: str, /, **args: FluentArg) -> str:
        """Format a message as is; string arguments are not escaped (see `get_html`)."""
        if not self.has(key):
            if self.strict:
                raise MissingTranslationError(f"{self.language}: no message {key!r}")
            self._warn_once(key, "missing message")
            return key
        if self._message(key) is None:
            self._warn_once(key, "unparsable message")
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
