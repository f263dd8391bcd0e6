"""Fixtures that start the Telegram Bot API emulator on loopback."""
