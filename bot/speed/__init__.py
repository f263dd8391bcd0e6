"""Speed to lead: first takes of new leads, escalations of those nobody took, counters."""
