"""A user reads the bot in their language, with correct Russian plurals and escaped names."""

from __future__ import annotations

import logging
from datetime import date
from enum import StrEnum

import pytest

from bot.i18n import (
    BOT_COMMANDS,
    SUPPORTED,
    LocaleSyntaxError,
    MissingTranslationError,
    TranslationFormatError,
    Translations,
    Translator,
    language_of,
    read_locale_source,
)


@pytest.fixture(scope="module")
def translations() -> Translations:
    return Translations.load(strict=True)


@pytest.fixture(scope="module")
def lenient() -> Translations:
    return Translations.load(strict=False)


@pytest.mark.parametrize("code", ["ru", "ru-RU", "RU", "ru_RU", "ru-UA", " ru-ru "])
def test_russian_telegram_clients_get_russian(translations: Translations, code: str) -> None:
    assert language_of(code) == "ru"
    assert translations.for_language(code).language == "ru"
    assert translations.for_language(code).get("menu-find") == "🔍 Найти"


@pytest.mark.parametrize("code", ["en", "en-US", "uk", "de-DE", "rus", "", None])
def test_everyone_else_gets_english(translations: Translations, code: str | None) -> None:
    assert language_of(code) == "en"
    assert translations.for_language(code).language == "en"
    assert translations.for_language(code).get("menu-find") == "🔍 Find"


def test_catalogue_offers_english_and_russian(translations: Translations) -> None:
    assert SUPPORTED == ("en", "ru")
    assert translations.languages == SUPPORTED
    english, russian = translations.for_language("en"), translations.for_language("ru")
    assert english.message_keys() == russian.message_keys()
    assert "onboarding-greeting" in russian.message_keys()
    assert translations.for_language("ru").has("leads-count")
    assert not translations.for_language("ru").has("no-such-key")


def test_locale_files_are_read_from_the_package() -> None:
    assert "onboarding-greeting =" in read_locale_source("en")
    assert "Поделиться номером" in read_locale_source("ru")


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "1 лид"),
        (2, "2 лида"),
        (5, "5 лидов"),
        (11, "11 лидов"),
        (21, "21 лид"),
        (22, "22 лида"),
        (25, "25 лидов"),
        (111, "111 лидов"),
        (0, "0 лидов"),
        (14, "14 лидов"),
        (104, "104 лида"),
    ],
)
def test_russian_lead_counts_use_the_right_form(
    translations: Translations, count: int, expected: str
) -> None:
    assert translations.for_language("ru").get("leads-count", count=count) == expected


@pytest.mark.parametrize(
    ("count", "minutes", "hours", "days"),
    [
        (1, "1 минуту назад", "1 час назад", "1 день назад"),
        (2, "2 минуты назад", "2 часа назад", "2 дня назад"),
        (5, "5 минут назад", "5 часов назад", "5 дней назад"),
        (11, "11 минут назад", "11 часов назад", "11 дней назад"),
        (21, "21 минуту назад", "21 час назад", "21 день назад"),
        (22, "22 минуты назад", "22 часа назад", "22 дня назад"),
        (25, "25 минут назад", "25 часов назад", "25 дней назад"),
        (111, "111 минут назад", "111 часов назад", "111 дней назад"),
    ],
)
def test_russian_time_ago_uses_the_right_form(
    translations: Translations, count: int, minutes: str, hours: str, days: str
) -> None:
    russian = translations.for_language("ru")
    assert russian.get("time-minutes-ago", count=count) == minutes
    assert russian.get("time-hours-ago", count=count) == hours
    assert russian.get("time-days-ago", count=count) == days


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "пока никого"),
        (1, "1 человек"),
        (3, "3 человека"),
        (12, "12 человек"),
        (21, "21 человек"),
    ],
)
def test_russian_admin_sees_how_many_people_have_access(
    translations: Translations, count: int, expected: str
) -> None:
    header = translations.for_language("ru").get("admin-bindings-header", count=count)
    assert header == f"<b>Пользователи с доступом</b>: {expected}"


def test_russian_invite_states_its_lifetime_in_hours(translations: Translations) -> None:
    russian = translations.for_language("ru")
    args = {"name": "Анна", "role": "rep", "link": "https://t.me/b?start=x"}
    assert "Действует 1 час," in russian.get("admin-invite-created", hours=1, **args)
    assert "Действует 24 часа," in russian.get("admin-invite-created", hours=24, **args)
    assert "Действует 48 часов," in russian.get("admin-invite-created", hours=48, **args)
    line = russian.get("admin-invite-line", name="Анна", role="admin", hours=0)
    assert line == "Анна — Администратор, истекает меньше чем через час"


@pytest.mark.parametrize(("count", "expected"), [(1, "1 lead"), (2, "2 leads"), (0, "0 leads")])
def test_english_lead_counts(translations: Translations, count: int, expected: str) -> None:
    assert translations.for_language("en").get("leads-count", count=count) == expected


def test_name_with_markup_arrives_escaped_in_html(translations: Translations) -> None:
    english = translations.for_language("en")
    text = english.get_html("onboarding-bound", name="<b>Eve</b> & Co", role="manager")
    assert "<b>&lt;b&gt;Eve&lt;/b&gt; &amp; Co</b>" in text
    assert "Role: Manager" in text
    # get() leaves arguments as they are: for plain-text destinations only.
    raw = english.get("onboarding-bound", name="<b>Eve</b> & Co", role="rep")
    assert "<b><b>Eve</b> & Co</b>" in raw


class PortalRole(StrEnum):
    MANAGER = "manager"


def test_role_may_be_a_string_enum(translations: Translations) -> None:
    russian = translations.for_language("ru")
    text = russian.get_html("status-signed-in", name="Олег", role=PortalRole.MANAGER)
    assert text == "Вы вошли как <b>Олег</b>.\nРоль: Руководитель"


def test_portal_refusal_reason_is_escaped(translations: Translations) -> None:
    russian = translations.for_language("ru")
    text = russian.get_html("error-portal-refused", reason='Поле "TITLE" <обязательно>')
    assert text == "Портал отклонил запрос: Поле &quot;TITLE&quot; &lt;обязательно&gt;"


def test_numbers_and_dates_are_formatted_per_language(translations: Translations) -> None:
    english, russian = translations.for_language("en"), translations.for_language("ru")
    assert english.get_html("lead-title", id=1234567) == "Lead #1234567"
    assert russian.get_html("lead-title", id=1234567) == "Лид №1234567"
    since = date(2026, 3, 1)
    assert english.get_html("admin-binding-line", name="Ann", role="rep", date=since) == (
        "Ann — Sales rep, since Mar 1, 2026"
    )
    russian_line = russian.get_html("admin-binding-line", name="Аня", role="rep", date=since)
    assert russian_line.startswith("Аня — Менеджер по продажам, с 1 мар")
    assert "2026" in russian_line


def test_no_bidi_isolation_marks_around_arguments(translations: Translations) -> None:
    text = translations.for_language("ru").get("onboarding-greeting", name="Ivan")
    assert text.startswith("Здравствуйте, Ivan! ")
    assert "\u2068" not in text
    assert "\u2069" not in text


def test_language_confirmation_is_written_in_the_chosen_language(
    translations: Translations,
) -> None:
    assert "English" in translations.for_language("en").get("settings-language-set")
    assert "по-русски" in translations.for_language("ru").get("settings-language-set")


def test_command_descriptions_follow_the_command_list(translations: Translations) -> None:
    russian = translations.for_language("ru").command_descriptions()
    assert tuple(russian) == BOT_COMMANDS
    assert russian["new"] == "Новый лид"


def test_missing_key_raises_in_strict_mode(translations: Translations) -> None:
    with pytest.raises(MissingTranslationError, match="menu-nonexistent"):
        translations.for_language("en").get("menu-nonexistent")
    with pytest.raises(MissingTranslationError):
        translations.for_language("ru").variables("menu-nonexistent")


def test_missing_key_shows_the_key_and_warns_once_at_runtime(
    lenient: Translations, caplog: pytest.LogCaptureFixture
) -> None:
    russian = lenient.for_language("ru")
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert russian.get("menu-vanished") == "menu-vanished"
        assert russian.get_html("menu-vanished", name="x") == "menu-vanished"
    warnings = [record for record in caplog.records if "menu-vanished" in record.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_missing_argument_raises_in_strict_mode(translations: Translations) -> None:
    with pytest.raises(TranslationFormatError, match="name"):
        translations.for_language("en").get("admin-revoked")


def test_missing_argument_is_logged_without_values_at_runtime(
    lenient: Translations, caplog: pytest.LogCaptureFixture
) -> None:
    english = lenient.for_language("en")
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        text = english.get("onboarding-bound", role="+79991234567")
    assert text.startswith("✅ Done! You're signed in as <b>name</b>.")
    assert "onboarding-bound" in caplog.text
    assert "+79991234567" not in caplog.text


def test_argument_of_a_wrong_type_never_reaches_the_log(
    lenient: Translations, caplog: pytest.LogCaptureFixture
) -> None:
    english = lenient.for_language("en")
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        text = english.get("lead-title", id="+79991234567")
    assert text.startswith("Lead #")
    assert "lead-title" in caplog.text
    assert "TypeError" in caplog.text
    assert "+79991234567" not in caplog.text


def test_broken_locale_file_fails_at_a_strict_load_and_shows_its_key_in_a_running_bot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = "good = Хорошо\nbroken = { $count ->\n    [one] лид\n}\n"
    with pytest.raises(LocaleSyntaxError, match="ru: 1 broken"):
        Translator("ru", source, strict=True)
    running = Translator("ru", source)
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        assert running.get("broken", count=2) == "broken"
    assert running.get("good") == "Хорошо"
    assert "unparsable message 'broken'" in caplog.text


def test_message_without_value_is_refused_in_strict_mode_and_shown_as_key_otherwise() -> None:
    source = "lead-card =\n    .title = Card\n"
    with pytest.raises(TranslationFormatError, match="lead-card"):
        Translator("en", source, strict=True).get("lead-card")
    assert Translator("en", source).get("lead-card") == "lead-card"


def test_catalogue_needs_every_language() -> None:
    english = Translator("en", "menu-find = Find\n")
    with pytest.raises(ValueError, match="ru"):
        Translations({"en": english})
