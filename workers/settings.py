"""Load and validate the user's configuration: every problem reported at once as `file: field: message`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from feeds.errors import InvalidInput
from feeds.gazetteer import Gazetteer, default_gazetteer_paths, load_gazetteer
from feeds.http import FetchPolicy
from feeds.models import FeedSource, Watch
from feeds.query import WatchSet, load_watches
from workers.ops import OpsConfig, SpikesConfig
from workers.sinks import SinkConfig

DEFAULT_CONFIG = Path("config/marsad.yaml")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# Sink fields that, left empty by an unset ${VAR}, mean "this sink is not configured here".
_REQUIRED_SINK_FIELDS = ("webhook_url", "host", "url", "urls")


def parse_duration(value: object) -> int:
    """'5m' → 300; plain numbers are seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 5m, 2h)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def expand_env(value: Any, env: Mapping[str, str]) -> Any:
    """Expand ${VAR} and ${VAR:-default} in every string of a parsed YAML tree; unset → ''."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


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

    def source(self) -> FeedSource:
        interval = parse_duration(self.interval)
        lo = parse_duration(self.min_interval) if self.min_interval is not None else min(interval, 120)
        hi = parse_duration(self.max_interval) if self.max_interval is not None else max(interval, 7200)
        if not 0 < lo <= interval <= hi:
            raise ValueError(f"need 0 < min_interval ({lo} s) ≤ interval ({interval} s) ≤ max_interval ({hi} s)")
        return FeedSource(id=self.id, url=self.url, name=self.name or self.id, interval_s=interval,
                          fetch_pages=self.fetch_pages, lang=self.lang, ignore_robots=self.ignore_robots,
                          min_interval_s=lo, max_interval_s=hi)


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feeds: list[FeedConfig]


_SINK = TypeAdapter(SinkConfig)


@dataclass
class Settings:
    """Everything a worker needs, validated: the compiled watches and the loaded gazetteer included."""

    path: Path
    redis_url: str | None
    data_dir: Path
    fetch: FetchConfig
    schedule: ScheduleConfig
    dedup_window_s: int
    feeds: dict[str, FeedSource]
    watches: list[Watch]
    watchset: WatchSet
    gazetteer: Gazetteer
    sinks: dict[str, Any]  # id → validated SinkConfig
    unconfigured_sinks: dict[str, str] = field(default_factory=dict)  # id → why
    files: list[Path] = field(default_factory=list)  # every file read, for hot reload
    spikes: SpikesConfig | None = None
    ops: OpsConfig | None = None


def _fmt(file: Path, loc: tuple[int | str, ...], msg: str) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return f"{file}: {where or '(top)'}: {msg}"


def _pyd_errors(file: Path, err: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[str]:
    return [_fmt(file, prefix + tuple(e["loc"]), e["msg"]) for e in err.errors()]


def _read_yaml(path: Path, env: Mapping[str, str], problems: list[str]) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return expand_env(yaml.safe_load(fh), env)
    except FileNotFoundError:
        problems.append(f"{path}: (file): not found")
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: (file): not valid YAML: {exc}".replace("\n", " "))
    return None


def _paths(base: Path, value: str | list[str]) -> list[Path]:
    return [(base / p).resolve() for p in ([value] if isinstance(value, str) else value)]


def _yaml_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p])
    return out


def load_settings(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read marsad.yaml and every file it names; raise InvalidInput listing all problems."""
    env = os.environ if env is None else env
    path = Path(path or env.get("MARSAD_CONFIG") or DEFAULT_CONFIG).resolve()
    problems: list[str] = []
    raw = _read_yaml(path, env, problems)
    if problems:
        raise InvalidInput("\n".join(problems))
    try:
        main = MainConfig.model_validate(raw or {})
    except ValidationError as exc:
        raise InvalidInput("\n".join(_pyd_errors(path, exc))) from None
    base = path.parent
    files = [path]

    feeds: dict[str, FeedSource] = {}
    for fpath in _yaml_files(_paths(base, main.feeds)):
        files.append(fpath)
        data = _read_yaml(fpath, env, problems)
        if data is None:
            continue
        try:
            parsed = FeedsFile.model_validate(data)
        except ValidationError as exc:
            problems.extend(_pyd_errors(fpath, exc))
            continue
        for i, fc in enumerate(parsed.feeds):
            try:
                src = fc.source()
            except ValueError as exc:
                problems.append(_fmt(fpath, ("feeds", i, "interval"), str(exc)))
                continue
            if src.id in feeds:
                problems.append(_fmt(fpath, ("feeds", i, "id"), f"duplicate feed id {src.id!r}"))
            feeds[src.id] = src

    sinks: dict[str, Any] = {}
    unconfigured: dict[str, str] = {}
    for sid, scfg in main.sinks.items():
        empty = [k for k in _REQUIRED_SINK_FIELDS if k in scfg and not scfg[k]]
        if empty:
            unconfigured[sid] = f"{empty[0]} is empty (is its environment variable set?)"
            continue
        try:
            sinks[sid] = _SINK.validate_python(scfg)
        except ValidationError as exc:
            problems.extend(_pyd_errors(path, exc, ("sinks", sid)))

    gaz_paths = default_gazetteer_paths() + _paths(base, main.gazetteer)
    files.extend(_yaml_files(gaz_paths))
    gazetteer: Gazetteer | None = None
    try:
        gazetteer = load_gazetteer(gaz_paths)
    except InvalidInput as exc:
        problems.append(exc.reason)

    watch_paths = _paths(base, main.watchlists)
    files.extend(_yaml_files(watch_paths))
    watches: list[Watch] = []
    watchset: WatchSet | None = None
    try:
        watches = load_watches(watch_paths)
    except InvalidInput as exc:
        problems.append(exc.reason)
    for w in watches:
        for i, sid in enumerate(w.notify):
            if sid not in main.sinks:
                known = ", ".join(sorted(main.sinks)) or "none"
                problems.append(f"{w.source}: watch {w.id}: notify[{i}]: unknown sink {sid!r} (known: {known})")
    if gazetteer is not None:
        try:
            watchset = WatchSet.compile(watches, gazetteer.ids)
        except InvalidInput as exc:
            problems.append(exc.reason)
    for name, block in (("spikes", main.spikes), ("ops", main.ops)):
        if block is not None and block.sink not in main.sinks:
            problems.append(_fmt(path, (name, "sink"), f"unknown sink {block.sink!r}"))
    known_watches = {w.id for w in watches}
    for i, wid in enumerate(main.spikes.watches if main.spikes else ()):
        if wid not in known_watches:
            problems.append(_fmt(path, ("spikes", "watches", i), f"unknown watch {wid!r}"))
    try:
        window = parse_duration(main.dedup_window)
    except ValueError as exc:
        problems.append(_fmt(path, ("dedup_window",), str(exc)))
        window = 7 * 86400
    if problems or gazetteer is None or watchset is None:
        raise InvalidInput("\n".join(problems))
    return Settings(
        path=path, redis_url=main.redis_url, data_dir=(base / main.data_dir).resolve(), fetch=main.fetch,
        schedule=main.schedule, dedup_window_s=window, feeds=feeds, watches=watches, watchset=watchset,
        gazetteer=gazetteer, sinks=sinks, unconfigured_sinks=unconfigured, files=files,
        spikes=main.spikes, ops=main.ops,
    )
