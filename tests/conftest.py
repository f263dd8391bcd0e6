"""Shared fixtures: the emulators of the Bitrix24 portal and the Telegram Bot API, PostgreSQL
and Redis (skipped plainly when missing, see `tests.services`)."""

pytest_plugins = [
    "tests.services",
    "tests.fixtures_portal",
    "tests.fixtures_redis",
    "tests.fixtures_storage",
    "tests.fixtures_telegram",
]
