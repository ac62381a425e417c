"""Counters and histograms kept in Redis: every process and machine adds to one set (exported by
workers/daemon/metrics.py)."""

from __future__ import annotations

from typing import Any

import redis

from workers.stores.keys import P

COUNTERS = P + "metrics:counters"
HISTS = P + "metrics:hist"
# Latency buckets in seconds: from a fast local alert (tens of ms) to a slow page fetch or backlog (10 min).
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)


def _field(name: str, labels: dict[str, Any]) -> str:
    return name + "|" + ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def parse_field(field: str) -> tuple[str, dict[str, str]]:
    name, _, rest = field.partition("|")
    return name, dict(kv.split("=", 1) for kv in rest.split(",") if kv)


def incr(r: redis.Redis, name: str, by: int = 1, **labels: Any) -> None:
    r.hincrby(COUNTERS, _field(name, labels), by)


def observe(r: redis.Redis, name: str, value: float, **labels: Any) -> None:
    """One histogram observation: the bucket it falls in, the count and the sum (cumulated at export)."""
    base = _field(name, labels)
    bucket = next((b for b in BUCKETS if value <= b), "inf")
    pipe = r.pipeline(transaction=False)
    pipe.hincrby(HISTS, f"{base}|b={bucket}", 1)
    pipe.hincrbyfloat(HISTS, f"{base}|sum", value)
    pipe.execute()
