"""Lead knowledge shared by dialogs and notifications: cached dictionaries and fields."""
