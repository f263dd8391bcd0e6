"""Entry point: `python -m bot` (or the `b24-leads-bot` script) reads settings and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from pydantic import ValidationError

from bot.app import ConfigurationError, run
from bot.config import Settings


def main() -> None:
    """Read settings, then run the bot until it is stopped."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "__".join(str(part) for part in first["loc"]).upper()
        sys.exit(f"Configuration error in {name}: {first['msg']}")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(settings))
    except ConfigurationError as exc:
        sys.exit(f"Configuration error: {exc}")


if __name__ == "__main__":
    main()
