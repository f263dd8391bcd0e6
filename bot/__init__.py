"""Bitrix24 leads in Telegram: the application core."""
