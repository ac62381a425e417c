"""Per-process dependencies built once (config, gazetteer, Redis, stores, sinks) with hot reload."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import redis

from feeds.errors import InvalidInput
from feeds.ingest import sources
from feeds.ingest.http import FetchResult, fetch
from feeds.models import FeedSource, Watch
from feeds.nlp.classify import Classifier
from workers.alerts.sinks import Sink, build_sink
from workers.archive.store import Archive
from workers.archive.writer import ArchiveWriter
from workers.config.load import Settings, load_settings
from workers.fetch.politeness import polite
from workers.fetch.robots import RobotsCache, page_fetcher
from workers.logging import get_logger, without_task_context
from workers.relevance import Trained, judges, train_models
from workers.stores import connect
from workers.stores.claims import Attempts, Locks, SeenStore
from workers.stores.feedstate import FeedStateStore
from workers.stores.ledger import AlertLedger, DeadLetters
from workers.stores.stories import RedisStoryStore

log = get_logger("marsad.runtime")
# After a WAIT that fewer replicas answered, this long without waiting before the next try.
REPLICA_RECHECK_S = 30.0

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


def _signature(files: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """mtime and size of every config file and of their folders (a new watchlist file changes its folder)."""
    out = []
    for p in sorted(set(files) | {f.parent for f in files}):
        try:
            st = p.stat()
            out.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(p), -1, -1))
    return tuple(out)


class Runtime:
    """What tasks need, built from one validated Settings."""

    def __init__(self, settings: Settings, client: redis.Redis | None = None,
                 archive: Archive | None = None) -> None:
        self.settings = settings
        self.redis = client or connect.client(settings.redis_url)
        self._archive = archive if archive is not None and archive.url == settings.archive_url else None
        self._archive_pid = os.getpid()
        self.archive_writer = ArchiveWriter(self.archive, self.redis)
        self.classifier = Classifier(settings.gazetteer)
        self.watches: dict[str, Watch] = {w.id: w for w in settings.watches}
        # Relevance models of the watches with examples (cached in data_dir; trained when the examples changed);
        # the pipeline consults only the active ones, so with none it does no extra work.
        self.relevance_models: list[Trained] = train_models(settings, self.classifier)
        self.judges = judges(settings, self.relevance_models)
        # The places and actors whose new stories are counted for surges: those the breaking watches name. No
        # other entity's counts would ever be read (or pruned, which reading does).
        self.surge_entities: frozenset[tuple[str, str]] = frozenset(
            e for w in settings.watches if w.breaking for e in settings.watchset.entities(w.id))
        self.seen = SeenStore(self.redis)
        self.locks = Locks(self.redis)
        self.feed_state = FeedStateStore(self.redis)
        self.ledger = AlertLedger(self.redis)
        self.dead = DeadLetters(self.redis)
        self.attempts = Attempts(self.redis)
        self.stories = RedisStoryStore(self.redis, window_s=settings.dedup_window_s)
        self._sinks: dict[str, Sink] = {}
        self._unreplicated_until = 0.0
        cfg = settings.fetch
        policy = cfg.policy()
        # A slot lives a little longer than the request deadline, so a crashed worker's slot frees itself.
        limits = partial(polite, max_concurrent=cfg.host_max_concurrent, min_gap_s=cfg.host_min_gap_s,
                         max_wait_s=cfg.host_max_wait_s, hold_s=policy.timeout_s + 10)
        self._fetch_feed: Callable[..., FetchResult] = limits(partial(fetch, policy=policy), self.redis, "feed")
        self.fetch_page: Callable[..., FetchResult] = limits(
            partial(fetch, policy=policy, accept=PAGE_ACCEPT), self.redis, "page")
        self.robots = RobotsCache(self.redis, self.fetch_page, policy.user_agent)

    def settle(self) -> None:
        """Before a task is acknowledged: its writes on the replicas (with Sentinel; a no-op otherwise).

        When the replicas are not there (after a failover the promoted master has none until the old one
        comes back), WAIT would cost its whole timeout on every unit of work; so after a short answer this
        process stops waiting for REPLICA_RECHECK_S, says so once, and then tries again."""
        wanted = self.settings.wait_replicas
        if wanted <= 0 or time.monotonic() < self._unreplicated_until:
            return
        got = connect.settle(self.redis, wanted)
        if got < wanted:
            self._unreplicated_until = time.monotonic() + REPLICA_RECHECK_S
            log.warning("redis_replicas_missing", wanted=wanted, acknowledged=got,
                        retry_in_s=REPLICA_RECHECK_S, risk="a failover now could lose the last writes")

    def archive(self) -> Archive:
        """The archive database of this process, opened (and migrated) on first use: an engine's pooled
        connections must not cross a fork, so a pool process opens its own. InvalidInput when it is off."""
        url = self.settings.archive_url
        if url is None:
            raise InvalidInput("the archive is off (archive_url: off in marsad.yaml)")
        if self._archive is None or self._archive_pid != os.getpid():
            self._archive = Archive(url)
            self._archive_pid = os.getpid()
        return self._archive

    def keep_archive(self, url: str | None) -> Archive | None:
        """This runtime's archive for a rebuilt runtime, when it stays on the same database."""
        return self._archive if self._archive is not None and self._archive_pid == os.getpid() \
            and self._archive.url == url else None

    def feed_fetch(self, feed: FeedSource) -> Callable[..., FetchResult]:
        """The poll of one feed: host politeness, and the Accept header of its source kind."""
        return partial(self._fetch_feed, accept=sources.get(feed.kind).accept)

    def page_fetch(self, feed: FeedSource) -> Callable[..., FetchResult]:
        """Page fetch for one feed's entries: robots.txt (unless ignore_robots), then host politeness."""
        return page_fetcher(self.fetch_page, self.robots, feed)

    def feed(self, feed_id: str) -> FeedSource | None:
        return self.settings.feeds.get(feed_id)

    def watch(self, watch_id: str) -> Watch | None:
        return self.watches.get(watch_id)

    def sink(self, sink_id: str) -> Sink | None:
        """The configured sink, or None when it is not configured (named outcome, not an error)."""
        if sink_id not in self.settings.sinks:
            return None
        if sink_id not in self._sinks:
            self._sinks[sink_id] = build_sink(sink_id, self.settings.sinks[sink_id])
        return self._sinks[sink_id]


class _Holder:
    """The process-wide Runtime, rebuilt when config files change and the new config validates."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rt: Runtime | None = None
        self.sig: tuple[tuple[str, int, int], ...] = ()
        self.checked = 0.0

    def get(self) -> Runtime:
        with self.lock:
            if self.rt is None:
                settings = load_settings(os.environ.get("MARSAD_CONFIG"))
                self.rt = Runtime(settings)
                self.sig = _signature(settings.files)
                self.checked = time.monotonic()
            elif time.monotonic() - self.checked >= self.rt.settings.schedule.reload_s:
                self.checked = time.monotonic()
                with without_task_context():
                    self._maybe_reload(self.rt)
            return self.rt

    def _maybe_reload(self, current: Runtime) -> None:
        sig = _signature(current.settings.files)
        if sig == self.sig:
            return
        try:
            settings = load_settings(current.settings.path)
            rt = Runtime(settings, client=current.redis, archive=current.keep_archive(settings.archive_url))
        except InvalidInput as exc:
            # Keep running the last good config; the user sees why in the log and in `marsad check`.
            self.sig = sig
            log.error("config_reload_failed", errors=exc.reason.splitlines())
            return
        except Exception as exc:  # a bug or a passing failure, not the user's file: the task must not fail for
            # it, so the last good config keeps running and the next check (after reload_s) tries again
            log.error("config_reload_failed", errors=[f"{type(exc).__name__}: {exc}"], effect="retried later")
            return
        self.sig, self.rt = sig, rt
        log.info("config_reloaded", feeds=len(settings.feeds), watches=len(settings.watches))

    def preload(self, settings: Settings) -> None:
        with self.lock:
            self.rt = Runtime(settings)
            self.sig = _signature(settings.files)
            self.checked = time.monotonic()

    def reset(self) -> None:
        with self.lock:
            self.rt = None


_holder = _Holder()


def runtime() -> Runtime:
    return _holder.get()


def preload(settings: Settings) -> None:
    """Build the runtime in the worker's main process, before the pool forks: every pool process starts
    with the config the worker validated (a process that first builds it after the config was broken by an
    edit would otherwise fail its tasks instead of keeping the last good one), and the gazetteer and
    classifier are shared copy-on-write instead of loaded once per process."""
    _holder.preload(settings)


def reset_runtime() -> None:
    _holder.reset()


def describe(rt: Runtime) -> dict[str, Any]:
    s = rt.settings
    return {"feeds": len(s.feeds), "watches": len(s.watches), "sinks": sorted(s.sinks),
            "unconfigured_sinks": s.unconfigured_sinks}
