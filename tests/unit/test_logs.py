"""Log lines never carry tokens, webhook secrets, phones or e-mails."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import JsonFormatter, RedactingFilter, configure_logging, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (
            "POST https://api.telegram.org/bot123456:AAE-abcdefghijklmnopqrstuvwxyz0123/getMe",
            "AAE-",
        ),
        ("token 1234567:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAA"),
        (
            "calling https://x.bitrix24.com/rest/1/8g9l071eismy9q2l/crm.lead.get",
            "8g9l071eismy9q2l",
        ),
        ("GET /oauth/token/?refresh_token=abcdef123&client_secret=s3cr3t", "abcdef123"),
        ("GET /rest/crm.lead.get?auth=tok3n", "tok3n"),
        ("client ivan.petrov@example.com wrote", "ivan.petrov@example.com"),
        ("call +7 (916) 123-45-67 now", "916"),
        ("call 89161234567 now", "89161234567"),
    ],
)
def test_redact_removes_secrets_and_personal_data(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_ids_and_ordinary_numbers_survive() -> None:
    line = "lead 12345 updated by telegram user 987654 in 0.25s"
    assert redact(line) == line


def test_filter_redacts_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "phone %s", ("+79161234567",), exc_info=None
    )
    try:
        raise ValueError("secret mail a@b.example")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert "+79161234567" not in record.getMessage()
    assert record.exc_text is not None
    assert "a@b.example" not in record.exc_text


def test_json_lines_carry_level_logger_and_message() -> None:
    record = logging.LogRecord("bot.x", logging.WARNING, __file__, 1, "hello %d", (5,), None)
    payload = json.loads(JsonFormatter().format(record))
    assert payload["level"] == "WARNING"
    assert payload["logger"] == "bot.x"
    assert payload["message"] == "hello 5"


def test_http_libraries_log_no_request_urls() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", "json")
        assert logging.getLogger("httpx").level == logging.WARNING
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
