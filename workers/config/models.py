"""The configuration models (pydantic): marsad.yaml, feeds files, and the spikes/ops blocks. Sink models live
beside their senders (workers/alerts/sinks/), routing ones in workers/config/routing.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from feeds.ingest.http import FetchPolicy
from feeds.models import FeedSource
from workers.access import is_loopback
from workers.config.env import Duration, parse_duration


class FetchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_s: float = Field(default=20, gt=0, le=300)
    max_bytes: int = Field(default=5_000_000, gt=0)
    user_agent: str = "Marsad/0.1 (+https://github.com/marsad)"
    allow_private_addresses: bool = False
    # Per-host politeness shared by all workers, separately for feed and page fetches.
    host_max_concurrent: int = Field(default=2, ge=1)
    host_min_gap_s: float = Field(default=1.0, ge=0)
    host_max_wait_s: float = Field(default=5.0, ge=0, description="then the task retries later")

    def policy(self) -> FetchPolicy:
        return FetchPolicy(timeout_s=self.timeout_s, max_bytes=self.max_bytes, user_agent=self.user_agent,
                           allow_private_addresses=self.allow_private_addresses)


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tick_s: float = Field(default=15, gt=0, description="how often beat looks for feeds that are due")
    reload_s: float = Field(default=30, gt=0, description="how often workers look for changed config files")
    stall_after_s: float | None = Field(
        default=None, gt=0,
        description="a worker whose queues held work this long while it received and finished nothing restarts "
                    "itself (default max(300, 10 × tick_s))")


class SpikesConfig(BaseModel):
    """`spikes:` in marsad.yaml: alert when a watch's last hour exceeds factor × its usual hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sink: str
    watches: list[str] = Field(default_factory=list, description="watch ids; empty = every watch")
    factor: float = Field(3.0, gt=1)
    min_articles: int = Field(5, ge=1)


class OpsConfig(BaseModel):
    """`ops:` in marsad.yaml: alert a sink when feeds, sinks or queues stay unhealthy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sink: str
    feed_failing_after: Duration = 3600.0
    feed_silent_factor: float = Field(10.0, gt=1)
    feed_silent_min: Duration = 7200.0  # never "silent" sooner than this (news sleeps at night)
    queue_backlog: int = Field(1000, ge=1)
    queue_backlog_for: Duration = 300.0
    sink_failing_after: Duration = 1800.0


class WebConfig(BaseModel):
    """The console (`marsad web`, started by `marsad up`): where it listens and who may use it."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=0, le=65535)
    enabled: bool = Field(default=True, description="false: `marsad up` does not start the console")
    user: str | None = None
    password: str | None = Field(default=None, description="with user: HTTP Basic authentication")
    proxy_user_header: str | None = Field(
        default=None, description="a reverse proxy that authenticates users passes the user in this header")
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"],
                                       description="addresses whose proxy_user_header is believed")
    public_url: str | None = Field(default=None, pattern=r"^https?://",
                                   description="the console's address as users reach it: alerts link to it")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def authenticated(self) -> bool:
        return bool(self.user and self.password) or bool(self.proxy_user_header)


class MainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    redis_url: str | None = None
    data_dir: str = "../var"
    feeds: str | list[str] = "feeds.yaml"
    watchlists: str | list[str] = "watchlists/"
    gazetteer: list[str] = Field(default_factory=list, description="extra gazetteer files/folders")
    sinks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    dedup_window: str | int = "7d"
    spikes: SpikesConfig | None = None
    ops: OpsConfig | None = None
    # Replicas every unit of work's writes must reach before its task is acknowledged (Redis WAIT); unset:
    # 1 behind Sentinel, 0 for a single Redis. See docs/deploy.md, "Redis high availability".
    redis_wait_replicas: int | None = Field(default=None, ge=0)
    # auto: readable coloured lines on a terminal, JSON lines otherwise (files, journald, containers).
    log_format: Literal["auto", "console", "json"] = "auto"
    # The archive: unset = SQLite in data_dir (archive.db); postgresql://… for several machines; "off" = none.
    archive_url: str | None = None
    archive_keep: Duration = 180 * 86400.0
    web: WebConfig = Field(default_factory=WebConfig)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return v or None


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    url: str = Field(pattern=r"^https?://")
    name: str = ""
    interval: str | int = "5m"
    # Bounds of the adaptive interval; unset, they default to 2 min … 2 h, widened to take `interval` in.
    min_interval: str | int | None = None
    max_interval: str | int | None = None
    fetch_pages: bool = True
    lang: str = "ar"
    ignore_robots: bool = False
    kind: str = Field(default="rss", description="the source kind that reads it (feeds/ingest/sources/)")

    def source(self) -> FeedSource:
        interval = int(parse_duration(self.interval))
        lo = int(parse_duration(self.min_interval)) if self.min_interval is not None else min(interval, 120)
        hi = int(parse_duration(self.max_interval)) if self.max_interval is not None else max(interval, 7200)
        if not 0 < lo <= interval <= hi:
            raise ValueError(f"need 0 < min_interval ({lo} s) ≤ interval ({interval} s) ≤ max_interval ({hi} s)")
        return FeedSource(id=self.id, url=self.url, name=self.name or self.id, interval_s=interval,
                          fetch_pages=self.fetch_pages, lang=self.lang, ignore_robots=self.ignore_robots,
                          min_interval_s=lo, max_interval_s=hi, kind=self.kind)


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feeds: list[FeedConfig]
