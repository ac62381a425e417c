"""The closed error taxonomy of the pipeline: retry, drop, or reject input/config; and the "did you mean" hint
its messages share."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MarsadError(Exception):
    """Base of every error the pipeline raises on purpose; `reason` is the short text users see."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transient(MarsadError):
    """Worth retrying later: timeouts, connection errors, 429, 5xx, Redis hiccups."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class HostBusy(Transient):
    """A host's politeness budget had no free slot in time: retry the task later, the feed is not sick."""


class Permanent(MarsadError):
    """Retrying will not help: 404/410, not a feed, too large, blocked address. Drop and count."""


class InvalidInput(MarsadError):
    """Input or configuration that cannot be used as given (bad query, bad YAML field)."""


def did_you_mean(value: str, known: Iterable[str], n: int = 3, cutoff: float = 0.5) -> str:
    """"; did you mean a, b?" naming the known values closest to a wrong one, or "" when none is close."""
    near = difflib.get_close_matches(value, sorted(known), n=n, cutoff=cutoff)
    return f"; did you mean {', '.join(near)}?" if near else ""
