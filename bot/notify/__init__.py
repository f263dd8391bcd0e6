"""Notifications about leads: what changed (diff), how it reads (render), delivery (sender)."""
