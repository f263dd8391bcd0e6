"""Entry point: `python -m bot` (or the `b24-leads-bot` script) reads settings and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.allocator import Allocator
from bot.config import MISSING_TOKEN, ConfigurationError, Settings

_NAMED_SETTING = re.compile(r"\b[A-Z][A-Z0-9_]*__[A-Z0-9_]+\b")
_FIELD_IN_SETTINGS_ERROR = re.compile(r'field "([a-z_]+)"')


def describe_validation_error(exc: ValidationError) -> str:
    """One sentence naming the first wrong setting (our validators already name theirs)."""
    first = exc.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if _NAMED_SETTING.search(message):
        return f"Configuration error: {message}"
    name = "__".join(str(part) for part in first["loc"]).upper()
    return f"Configuration error in {name}: {message}"


def describe_settings_error(exc: SettingsError) -> str:
    """pydantic-settings could not decode a value (malformed JSON): name its section."""
    found = _FIELD_IN_SETTINGS_ERROR.search(str(exc))
    section = found.group(1).upper() if found else "a section"
    return f"Configuration error: a {section}__* value in the environment or .env is malformed"


def main() -> None:
    """Read settings, then run the bot until it is stopped."""
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(describe_validation_error(exc))
    except SettingsError as exc:
        sys.exit(describe_settings_error(exc))
    if not settings.telegram.token.get_secret_value():
        sys.exit(f"Configuration error: {MISSING_TOKEN}")
    # Imported only now: the whole bot (aiogram's types, dialogs, locales) takes seconds to
    # import on a small machine, and a wrong setting should be named without that wait.
    # The collector rests until the bot is up: what starting builds (types, schemas, the
    # catalogue) lives for the whole run, and walking it again and again while it grew took
    # about half a second of the start (`run` freezes it and turns the collector back on).
    gc.disable()
    allocator = Allocator.load()
    if allocator is not None:
        allocator.limit_arenas()  # before the first thread (SQLite's, the resolver's) starts
    from bot.app import run

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(settings, allocator))
    except ConfigurationError as exc:
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
