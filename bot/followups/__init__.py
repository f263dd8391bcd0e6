"""Follow-ups: to-dos on a lead in the portal, and durable reminders of them in Telegram."""
