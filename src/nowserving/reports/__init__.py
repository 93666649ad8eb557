"""Reports from a branch's own event log: what it had and what it needs."""
