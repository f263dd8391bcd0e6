"""Log lines never carry tokens, webhook secrets, phones or e-mails."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import (
    LEAKY_LOGGERS,
    JsonFormatter,
    RedactingFilter,
    configure_logging,
    install_redaction,
    redact,
)


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
        ("contact 79161234567 shared", "79161234567"),
        ("phone=+79161234567", "79161234567"),
        ("mobile: 8 916 123 45 67.", "916 123"),
        ("work (495) 123-45-67, ask for Olga", "123-45-67"),
        ("+44 20 7946 0958", "7946"),
        ("{'phone_number': '+380441234567'}", "380441234567"),
    ],
)
def test_redact_removes_secrets_and_personal_data(line: str, secret: str) -> None:
    assert secret not in redact(line)


@pytest.mark.parametrize(
    "line",
    [
        "lead 12345 updated by telegram user 987654 in 0.25s",
        "telegram user 5123456789 bound to portal user 84",
        "update id=7000000123 from chat 6012345678 handled",
        "group -1001234567890 migrated from -987654321",
        "chat_id=-1001234567890 message_id=12",
        "ids 5123456789 5123456780 and 2001",
        "changed since 2026-12-03 08:40:15 (watermark 2026-12-03T08:40:15+03:00)",
        "listening on 127.0.0.1:8080, 2 req/s, burst 50",
        "version 1.2.3456789012",
    ],
)
def test_ids_dates_and_ordinary_numbers_survive(line: str) -> None:
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


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_redaction_reaches_every_handler_the_root_included() -> None:
    saved_factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    child = logging.getLogger("tests.logs.child")
    on_root, on_child = _Collect(), _Collect()
    try:
        configure_logging("DEBUG", "text")
        install_redaction()  # a second install changes nothing
        # Handlers added afterwards, with no filter of their own, on the root and on a child.
        root.addHandler(on_root)
        child.addHandler(on_child)
        child.warning("contact %s, mail %s, user %d", "+79161234567", "a@b.example", 5123456789)
        child.error("failed", exc_info=ValueError("phone 79161234567"))
    finally:
        child.removeHandler(on_child)
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.setLogRecordFactory(saved_factory)
    expected = "contact <phone>, mail <email>, user 5123456789"
    assert on_root.messages[0] == on_child.messages[0] == expected
    assert all("79161234567" not in m for m in on_root.messages + on_child.messages)


def test_aiogram_dialog_debug_lines_with_chat_objects_are_kept_out() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", "json")
        dialog_logger = logging.getLogger("aiogram_dialog.manager.message_manager")
        assert not dialog_logger.isEnabledFor(logging.DEBUG)
        assert dialog_logger.isEnabledFor(logging.INFO)
        assert LEAKY_LOGGERS["aiogram_dialog"] == logging.INFO
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
