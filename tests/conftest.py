"""Shared fixtures: the emulators of the Bitrix24 portal and the Telegram Bot API."""

pytest_plugins = [
    "tests.fixtures_portal",
    "tests.fixtures_redis",
    "tests.fixtures_storage",
    "tests.fixtures_telegram",
]
