"""The Prometheus endpoint: a collector that reads the shared counters, histograms, queue depths and worker
ages from Redis on each scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from workers.logging import get_logger
from workers.stores import liveness
from workers.stores.keys import QUEUES
from workers.stores.metrics import BUCKETS, COUNTERS, HISTS, parse_field

log = get_logger("marsad.metrics")

DESCRIPTIONS = {
    "marsad_feeds_polled_total": "Feed polls by outcome (ok, not_modified, failed).",
    "marsad_articles_processed_total": "Articles by outcome (new, duplicate, near_duplicate, joined_event, dropped).",
    "marsad_watch_matches_total": "Watch matches per watch.",
    "marsad_alerts_total": "Alert deliveries per sink and outcome (sent, already_sent, retry, dead_letter, ...).",
    "marsad_task_duration_seconds": "Task run time per task.",
    "marsad_worker_stalls_total": "Workers that restarted themselves: work waited, nothing was received or finished.",
    "marsad_publication_to_alert_seconds": "Time from an article's publication date to its alert being sent.",
}


class RedisCollector:
    """A prometheus_client collector that reads the shared counters on each scrape."""

    def __init__(self, r: redis.Redis) -> None:
        self.r = r

    def collect(self) -> Iterator[Any]:
        """Every family, and `marsad_redis_up` 1; with Redis unreachable only `marsad_redis_up` 0 (a scrape that
        answers, for an alert rule to fire on, not a 500 and a traceback per scrape)."""
        up = GaugeMetricFamily("marsad_redis_up", "1 when the shared Redis answered this scrape, else 0.")
        try:
            families = list(self._collect())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("metrics_redis_unreachable", error=f"{type(exc).__name__}: {exc}")
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield from families
        yield up

    def _collect(self) -> Iterator[Any]:
        counters: dict[bytes, bytes] = self.r.hgetall(COUNTERS)  # type: ignore[assignment]
        families: dict[str, CounterMetricFamily] = {}
        for raw, value in sorted(counters.items()):
            name, labels = parse_field(raw.decode())
            fam = families.get(name)
            if fam is None:
                fam = families[name] = CounterMetricFamily(name.removesuffix("_total"), DESCRIPTIONS.get(name, name),
                                                           labels=sorted(labels))
            fam.add_metric([labels[k] for k in sorted(labels)], float(value))
        yield from families.values()
        yield from self._histograms()
        depth = GaugeMetricFamily("marsad_queue_depth", "Messages waiting per queue.", labels=["queue"])
        for q in QUEUES:
            depth.add_metric([q], float(self.r.llen(q)))
        yield depth

        age = GaugeMetricFamily("marsad_worker_last_task_age_seconds",
                                "Seconds since each live worker last finished a task (or started).",
                                labels=["worker"])
        now = time.time()
        for name, info in sorted(liveness.workers(self.r).items()):
            last = info.get("last_finished") or info.get("started")
            if last is not None:
                age.add_metric([name], now - float(last))
        yield age

    def _histograms(self) -> Iterator[Any]:
        raw: dict[bytes, bytes] = self.r.hgetall(HISTS)  # type: ignore[assignment]
        series: dict[tuple[str, str], dict[str, float]] = {}
        for k, v in raw.items():
            base, _, part = k.decode().rpartition("|")
            name, _, labels = base.partition("|")
            series.setdefault((name, labels), {})[part] = float(v)
        fams: dict[str, HistogramMetricFamily] = {}
        for (name, labels_s), parts in sorted(series.items()):
            label_map = dict(kv.split("=", 1) for kv in labels_s.split(",") if kv)
            fam = fams.get(name)
            if fam is None:
                fam = fams[name] = HistogramMetricFamily(name, DESCRIPTIONS.get(name, name), labels=sorted(label_map))
            cum, buckets = 0.0, []
            for b in (*BUCKETS, "inf"):
                cum += parts.get(f"b={b}", 0.0)
                buckets.append(("+Inf" if b == "inf" else str(b), cum))
            fam.add_metric([label_map[k] for k in sorted(label_map)], buckets, parts.get("sum", 0.0))
        yield from fams.values()
