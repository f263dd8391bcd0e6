"""Benchmarks that print figures against the portal's and Telegram's limits."""
