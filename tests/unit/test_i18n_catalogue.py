"""The English and Russian locale files stay in step and every message formats cleanly."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from fluent.syntax import FluentParser
from fluent.syntax import ast as fluent_ast
from fluent.syntax.visitor import Visitor

from bot.i18n import (
    BOT_COMMANDS,
    SUPPORTED,
    FluentArg,
    LocaleSyntaxError,
    Translations,
    Translator,
    read_locale_source,
)
from bot.i18n.catalogue import index_entries

# One sample per argument name used anywhere in the locales; a new variable needs a sample here.
SAMPLE_ARGS: dict[str, FluentArg] = {
    "name": "Иван <Petrov> & Co",
    "due": "05.12 10:00",
    "day": "05.12.2026",
    "zone": "Europe/Moscow",
    "subject": "Call <back> & ask",
    "number": 3,
    "until": "18:40",
    "converted": 7,
    "first": "01.12.2026",
    "minutes": 12,
    "median": "<1",
    "p90": "14",
    "taken": 9,
    "period": "01.12–07.12.2026",
    "share": "45%",
    "asker": "Пётр <Rep> & Co",
    "client": "Anna <b>Smith</b>, +7 999 123-45-67, a@example.com",
    "note": "call <me> & back",
    "text": "<i>later</i> & tomorrow",
    "role": "manager",
    "date": date(2026, 3, 1),
    "count": 21,
    "used": 12,
    "burst": 50,
    "rate": "2",
    "refused": 3,
    "pending": 4,
    "dead": 1,
    "ago": "5 minutes ago",
    "domain": "example.bitrix24.com",
    "when": "2026-11-29 12:03",
    "url": "https://bot.example.com/telegram/webhook?a=1&b=<2>",
    "error": "Wrong response from the webhook: 502 Bad Gateway <html>",
    "hours": 24,
    "id": 123456,
    "link": "https://t.me/leads_bot?start=inv_AbC-123&x=<1>",
    "query": "Pet<r>",
    "reason": 'Field "TITLE" is <required> & empty',
    "label": "Зона <доставки> & Co",
    "code": "UF_CRM_ZONE",
    "values": "Red, Green & <Blue>",
    "fields": "Title, <Phone> & Name",
    "layout": "▪️ Main <section>\n    Title & name",
    "type": "enumeration",
    "required": "yes",
    "saved": 3,
    "old": "New <lead>",
    "new": "In progress & more",
    "source": "Web & form",
    "kinds": "added, changed",
    "scope": "my <leads>",
    "state": "active",
    "stage": "В работе <b>&",
    "field": "Phone <x>",
    "value": "+7 916 <123> & 45",
    "page": 2,
    "pages": 11,
    "step": 3,
    "total": 8,
    "length": 5000,
    "limit": 255,
    "title": "Окна <b>ПВХ</b> & 🚀",
    "owner": "Olga <Smirnova>",
    "age": "3 days ago",
    "phone": "+7 916 <123> & 45",
    "email": "a&b@<example>.test",
    "product": "Sensor <kit> & pro",
    "quantity": Decimal("1.5"),
    "price": Decimal("12500.50"),
    "amount": Decimal("18750.75"),
    "currency": "RUB",
    "filters": "Stages: New, <In> progress; Sources: Web & co",
    "chat": "Sales <team> & co",
    "thread": 77,
    "lead": "#4521",
    "paused": 2,
    "chats": 5,
    "disabled": 1,
    "method": "crm.lead.add",
    "leads": 734,
    "fresh": 120,
    "moved": 300,
    "edited": 560,
    "removed": 20,
    "since": "04.12 18:05",
    "icon": "🆕",
    "now": "14:05",
    "days": "Mon–Fri",
    "start": "09:00",
    "end": "18:00",
    "idle": "3 <days>",
    "cut": "1600",
    "group": "Sales <team> & co",
    "failures": 4,
}
NUMERIC_SAMPLES: tuple[int | float, ...] = (0, 1, 2, 5, 11, 21, 22, 25, 111, 1.5)
ROLE_SAMPLES = ("rep", "manager", "admin")

# Keys whose text goes into buttons, placeholders or command menus: plain text, short.
LABEL_PATTERN = re.compile(
    r"^(menu-(?!title).*|.*-button|button-.*|settings-language-(en|ru)|role-.*|lead-label-.*"
    r"|command-.*|admin-revoke-yes|onboarding-share-phone-placeholder)$"
)
ALLOWED_TAGS = {"b", "i", "code"}
ENTITY = re.compile(r"&(amp|lt|gt|quot|#x27|#\d+);")


def source_messages(source: str) -> dict[str, fluent_ast.Message]:
    """Messages of a locale file as parsed by fluent.syntax."""
    resource = FluentParser().parse(source)
    return {
        entry.id.name: entry for entry in resource.body if isinstance(entry, fluent_ast.Message)
    }


class VariableNames(Visitor):
    """Collects `$variable` names of one message, following references to other messages."""

    def __init__(self, messages: dict[str, fluent_ast.Message]) -> None:
        self.messages = messages
        self.names: set[str] = set()
        self.followed: set[str] = set()

    def visit_VariableReference(self, node: fluent_ast.VariableReference) -> None:
        self.names.add(node.id.name)

    def visit_MessageReference(self, node: fluent_ast.MessageReference) -> None:
        if node.id.name not in self.followed:
            self.followed.add(node.id.name)
            self.visit(self.messages[node.id.name])


def variables_by_key(source: str) -> dict[str, frozenset[str]]:
    """Every message key of a locale file with the argument names it uses."""
    messages = source_messages(source)
    result = {}
    for key, message in messages.items():
        collector = VariableNames(messages)
        collector.visit(message)
        result[key] = frozenset(collector.names)
    return result


def catalogue_differences(first: str, second: str) -> list[str]:
    """Keys present in only one of two locale sources, and keys whose variables differ."""
    first_vars, second_vars = variables_by_key(first), variables_by_key(second)
    problems = [f"only in first: {key}" for key in sorted(first_vars.keys() - second_vars)]
    problems += [f"only in second: {key}" for key in sorted(second_vars.keys() - first_vars)]
    for key in sorted(first_vars.keys() & second_vars.keys()):
        if first_vars[key] != second_vars[key]:
            problems.append(
                f"variables of {key}: {sorted(first_vars[key])} vs {sorted(second_vars[key])}"
            )
    return problems


class PluralSelectors(Visitor):
    """Collects the variant keys of every select expression that uses plural categories."""

    CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})

    def __init__(self) -> None:
        self.selects: list[set[str]] = []

    def visit_SelectExpression(self, node: fluent_ast.SelectExpression) -> None:
        keys = {
            variant.key.name
            for variant in node.variants
            if isinstance(variant.key, fluent_ast.Identifier)
        }
        if keys & (self.CATEGORIES - {"other"}):
            self.selects.append(keys)
        self.generic_visit(node)


class TelegramHtmlChecker(HTMLParser):
    """Fails on tags Telegram does not accept and on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open_tags: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS or attrs:
            self.problems.append(f"tag <{tag}>")
        self.open_tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags or self.open_tags.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


def html_problems(text: str) -> list[str]:
    """What would make Telegram reject `text` sent with parse_mode HTML."""
    checker = TelegramHtmlChecker()
    checker.feed(text)
    checker.close()
    problems = list(checker.problems)
    if checker.open_tags:
        problems.append(f"unclosed {checker.open_tags}")
    without_tags = re.sub(r"</?(b|i|code)>", "", text)
    if "<" in without_tags or ">" in without_tags:
        problems.append("bare < or >")
    if "&" in ENTITY.sub("", without_tags):
        problems.append("bare &")
    return problems


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {language: read_locale_source(language) for language in SUPPORTED}


@pytest.fixture(scope="module")
def translations() -> Translations:
    return Translations.load(strict=True)


def sample_args(translator: Translator, key: str) -> dict[str, FluentArg]:
    return {name: SAMPLE_ARGS[name] for name in translator.variables(key)}


def test_english_and_russian_have_the_same_keys_and_variables(sources: dict[str, str]) -> None:
    assert catalogue_differences(sources["en"], sources["ru"]) == []


def test_difference_check_catches_a_missing_key_and_a_renamed_variable() -> None:
    english = "greeting = Hi, { $name }!\nbye = Bye\nlead = Lead { $id }\n"
    russian = "greeting = Привет, { $user }!\nlead = Лид { $id }\n"
    assert catalogue_differences(english, russian) == [
        "only in first: bye",
        "variables of greeting: ['name'] vs ['user']",
    ]


def test_catalogue_finds_the_same_variables_as_the_syntax_tree(
    sources: dict[str, str], translations: Translations
) -> None:
    for language, source in sources.items():
        translator = translations.for_language(language)
        expected = variables_by_key(source)
        assert translator.message_keys() == expected.keys()
        assert {key: translator.variables(key) for key in translator.message_keys()} == expected


def test_every_variable_has_a_sample_and_is_a_python_keyword_name(
    sources: dict[str, str],
) -> None:
    used = set().union(*(set().union(*variables_by_key(s).values()) for s in sources.values()))
    assert used <= SAMPLE_ARGS.keys(), f"add samples for {sorted(used - SAMPLE_ARGS.keys())}"
    assert all(name.isidentifier() for name in used)


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_message_formats_with_sample_args(translations: Translations, language: str) -> None:
    translator = translations.for_language(language)
    for key in sorted(translator.message_keys()):
        args = sample_args(translator, key)
        text = translator.get_html(key, **args)
        assert text.strip(), key
        assert "\u2068" not in text
        assert "\u2069" not in text
        for name in ("count", "hours"):
            if name in args:
                for number in NUMERIC_SAMPLES:
                    assert translator.get_html(key, **{**args, name: number})
        if "role" in args:
            for role in ROLE_SAMPLES:
                text = translator.get(key, **{**args, "role": role})
                assert translator.get(f"role-{role}") in text, (key, role)
        if "date" in args:
            moment = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
            assert translator.get(key, **{**args, "date": moment})


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_message_is_valid_telegram_html(translations: Translations, language: str) -> None:
    translator = translations.for_language(language)
    problems = {
        key: found
        for key in sorted(translator.message_keys())
        if (found := html_problems(translator.get_html(key, **sample_args(translator, key))))
    }
    assert problems == {}


def test_html_check_catches_a_bare_ampersand_and_an_unknown_tag() -> None:
    assert html_problems("Tom & Jerry") == ["bare &"]
    assert html_problems("<u>x</u>") == ["tag <u>", "bare < or >"]
    assert html_problems("<b>x") == ["unclosed ['b']"]
    assert html_problems("<b>Tom &amp; Jerry</b> &lt;3") == []


@pytest.mark.parametrize("language", SUPPORTED)
def test_labels_are_short_plain_text(translations: Translations, language: str) -> None:
    translator = translations.for_language(language)
    labels = {
        key: translator.get(key) for key in translator.message_keys() if LABEL_PATTERN.match(key)
    }
    assert "menu-new-lead" in labels
    assert "onboarding-share-phone-button" in labels
    for key, text in labels.items():
        assert html.escape(text) == text, key
        assert 1 <= len(text) <= 64, key
        assert "\n" not in text, key


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_bot_command_has_a_description(translations: Translations, language: str) -> None:
    translator = translations.for_language(language)
    described = {
        key.removeprefix("command-")
        for key in translator.message_keys()
        if key.startswith("command-")
    }
    assert described == set(BOT_COMMANDS)
    for command, description in translator.command_descriptions().items():
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command)
        assert 3 <= len(description) <= 256


def test_russian_plural_selectors_cover_one_few_and_many(sources: dict[str, str]) -> None:
    collector = PluralSelectors()
    collector.visit(FluentParser().parse(sources["ru"]))
    assert len(collector.selects) >= 5
    for keys in collector.selects:
        assert {"one", "few", "many", "other"} <= keys, keys


def test_english_plural_selectors_cover_one_and_other(sources: dict[str, str]) -> None:
    collector = PluralSelectors()
    collector.visit(FluentParser().parse(sources["en"]))
    assert len(collector.selects) >= 5
    for keys in collector.selects:
        assert {"one", "other"} <= keys, keys


LAZY_SOURCE = """# A comment before the first message
greeting = Hello, { $name }!
reminder =
    { greeting }
    You have { $count ->
        [one] one lead
       *[other] { $count } leads
    } waiting.
## A group comment
-brand = Leadbot
signed = Sent by { -brand }
broken = { $unclosed
"""


def test_a_running_catalogue_parses_each_message_when_first_shown() -> None:
    translator = Translator("en", LAZY_SOURCE)
    assert translator.message_keys() == {"greeting", "reminder", "signed", "broken"}
    assert translator.variables("reminder") == {"name", "count"}
    text = translator.get("reminder", name="Ann", count=3)
    assert text == "Hello, Ann!\nYou have 3 leads waiting."
    assert translator.get("signed") == "Sent by Leadbot"
    # An entry Fluent cannot parse shows its key instead of failing the whole catalogue.
    assert translator.get("broken") == "broken"
    assert translator.variables("broken") == frozenset()
    assert not translator.has("-brand")


def test_strict_mode_refuses_an_entry_it_cannot_parse() -> None:
    with pytest.raises(LocaleSyntaxError, match="broken entries"):
        Translator("en", LAZY_SOURCE, strict=True)
    clean = LAZY_SOURCE.replace("broken = { $unclosed\n", "")
    assert Translator("en", clean, strict=True).get("signed") == "Sent by Leadbot"


def test_entries_split_by_lines_are_the_entries_of_the_whole_parse() -> None:
    entries = index_entries(LAZY_SOURCE)
    assert list(entries) == ["greeting", "reminder", "-brand", "signed", "broken"]
    assert "group comment" not in entries["reminder"]
    assert entries["reminder"].rstrip().endswith("} waiting.")
