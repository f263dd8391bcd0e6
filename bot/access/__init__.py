"""Identity and access: who a Telegram account is in the portal and what it may do."""
