"""The "Telegram" tab of the portal's lead card (placement CRM_LEAD_DETAIL_TAB)."""
