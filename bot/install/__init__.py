"""The bot as a Bitrix24 local application: installation state and its HTTP endpoints."""
