"""Fixtures that start the Bitrix24 portal emulator on loopback."""
