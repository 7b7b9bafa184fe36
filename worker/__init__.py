"""Background jobs (RQ) and the periodic schedule."""
