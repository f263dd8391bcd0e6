"""Operations: what the bot can tell its admins about its own health."""
