"""aiogram-dialog dialogs of the bot, one module per flow."""
