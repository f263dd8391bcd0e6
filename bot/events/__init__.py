"""Portal events in: the HTTP receiver, the catch-up poller, the processor (inbox -> outbox)."""
