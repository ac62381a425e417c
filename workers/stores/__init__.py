"""Redis adapters, one per kind of state: keys, claims, the alert ledger, feed state, stories, liveness, metrics."""
