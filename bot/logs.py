"""Logging set-up: readable or JSON lines, with secrets and personal data redacted."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# The bot token and the portal webhook secret travel inside URLs; e-mails and phones may slip
# into third-party messages. Every record passes through these patterns before it is written.
_REDACTIONS = (
    (re.compile(r"/bot\d+:[A-Za-z0-9_-]+"), "/bot<token>"),
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}\b"), "<token>"),
    (re.compile(r"(/rest/\d+/)[A-Za-z0-9]+"), r"\1<secret>"),
    (
        re.compile(r"([?&](?:auth|access_token|refresh_token|client_secret)=)[^&\s]+"),
        r"\1<hidden>",
    ),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
)

# A run of digits and phone separators that neither continues a word or a decimal number nor
# follows a minus sign: "-1001234567890" is a supergroup id, not a phone.
_NUMBER_RUN = re.compile(r"(?<![\w+-])(?<!\d\.)(\+?)(\d[\d ()-]*\d|\d)(?!\w|\.\d)")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_GROUPS = re.compile(r"\d+")
_MIN_PHONE_DIGITS = 10  # E.164 numbers with the country code rarely have fewer
_MAX_PHONE_DIGITS = 15
_MAX_ID_DIGITS = 10  # Telegram user ids (and every portal id) fit in 10 digits


def _looks_like_phone(plus: str, run: str) -> bool:
    """Whether a number run is a phone rather than an id, a count or a date.

    With a leading + (E.164) or written with separators in short groups ("8 (916) 123-45-67")
    it is a phone from 8 digits on. A bare run is an id up to 10 digits (Telegram user ids and
    portal ids), and a phone from 11 to 15 (a shared contact's "79161234567").
    """
    digits = "".join(_GROUPS.findall(run))
    if len(digits) > _MAX_PHONE_DIGITS:
        return False
    if plus:
        return len(digits) >= 8
    groups = _GROUPS.findall(run)
    if len(groups) > 1:
        if _DATE.search(run):
            return False
        # "5123456789 5123456780" are two ids; phone groups are short.
        return len(digits) >= _MIN_PHONE_DIGITS and max(len(g) for g in groups) <= 7
    return len(digits) > _MAX_ID_DIGITS


def _redact_phone(match: re.Match[str]) -> str:
    plus, run = match.group(1), match.group(2)
    return "<phone>" if _looks_like_phone(plus, run) else match.group(0)


def redact(text: str) -> str:
    """`text` with tokens, secrets, e-mails and phone numbers replaced by placeholders."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return _NUMBER_RUN.sub(_redact_phone, text)


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record's formatted message (and its traceback) in place."""
    if getattr(record, "redacted", False):
        return
    message = redact(record.getMessage())
    record.msg, record.args = message, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    record.exc_info = None if record.exc_text else record.exc_info
    record.redacted = True


class RedactingFilter(logging.Filter):
    """Rewrites every record's message so no secret or personal datum reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place."""
        redact_record(record)
        return True


class _RedactingRecordFactory:
    """Wraps the record factory: records are redacted as they are made, before any handler."""

    def __init__(self, wrapped: Callable[..., logging.LogRecord]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.wrapped(*args, **kwargs)
        redact_record(record)
        return record


def install_redaction() -> None:
    """Redact every log record of the process, whichever logger and handler it goes to.

    A filter on one handler misses handlers added later (to the root or to any logger); the
    record factory sees every record once, before all of them. Installing twice is harmless.
    """
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingRecordFactory):
        logging.setLogRecordFactory(_RedactingRecordFactory(current))


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON with time, level, logger and message."""
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Send logs to stderr, readable (`text`) or `json`, always redacted."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    install_redaction()
    quiet_leaky_loggers()


LEAKY_LOGGERS: dict[str, int] = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "aiogram_dialog": logging.INFO,
}
"""Libraries whose DEBUG/INFO lines carry request URLs (with the bot token or the webhook
secret), SQL parameters (with personal data) or whole Chat objects (aiogram_dialog's DEBUG
lines: people's names and usernames), with the least level that keeps them out."""


def quiet_leaky_loggers() -> None:
    """Keep the libraries that would log secrets or personal data quiet, at any root level."""
    for name, level in LEAKY_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
