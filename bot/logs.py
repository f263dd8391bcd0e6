"""Logging set-up: readable or JSON lines, with secrets and personal data redacted."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

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
    (re.compile(r"\+?\d[\d ()-]{8,}\d"), "<phone>"),
)


def redact(text: str) -> str:
    """`text` with tokens, secrets, e-mails and phone numbers replaced by placeholders."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites every record's message so no secret or personal datum reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message (and the traceback) in place."""
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        return True


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
    quiet_leaky_loggers()


LEAKY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "aiosqlite")
"""Libraries whose DEBUG/INFO lines carry request URLs (with the bot token or the webhook
secret) or SQL parameters (with personal data)."""


def quiet_leaky_loggers() -> None:
    """Keep the libraries that would log secrets or personal data at WARNING, at any level."""
    for name in LEAKY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
