"""Load and validate the user's configuration: every problem reported at once as `file: field: message`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from feeds import yamlfile
from feeds.errors import InvalidInput
from feeds.ingest import sources
from feeds.models import FeedSource, Watch
from feeds.nlp.gazetteer import Gazetteer, default_gazetteer_paths, load_gazetteer
from feeds.query.load import load_watch_examples, load_watches
from feeds.query.watchset import WatchSet
from feeds.relevance.examples import Example
from workers.alerts import sinks
from workers.archive.engine import check_url, default_url
from workers.config.env import DEFAULT_CONFIG, configured_redis_url, embedded_url, expand_env, parse_duration
from workers.config.messages import fmt, pydantic_lines
from workers.config.models import (
    FeedsFile,
    FetchConfig,
    MainConfig,
    OpsConfig,
    ScheduleConfig,
    SpikesConfig,
    WebConfig,
)
from workers.stores import connect


@dataclass
class Settings:
    """Everything a worker needs, validated: the compiled watches and the loaded gazetteer included."""

    path: Path
    redis_url: str  # the Redis every process uses (configured, or the embedded one's socket)
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
    embedded: bool = False  # no redis_url: `marsad up` runs Redis itself, on a socket in data_dir
    wait_replicas: int = 0  # replicas a unit of work's writes must reach before its task is acknowledged
    log_format: str = "auto"
    archive_url: str | None = None  # None: no archive ("archive_url: off")
    archive_keep_s: float = 180 * 86400.0
    web: WebConfig = field(default_factory=WebConfig)
    examples: dict[str, list[Example]] = field(default_factory=dict)  # watch id → its labelled examples


def _read_yaml(path: Path, env: Mapping[str, str], problems: list[str]) -> Any:
    try:
        return expand_env(yamlfile.loads(path.read_text(encoding="utf-8")), env)
    except FileNotFoundError:
        problems.append(f"{path}: (file): not found")
    except OSError as exc:
        problems.append(f"{path}: (file): cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: (file): not valid YAML: not UTF-8 ({exc.reason})")
    except yaml.YAMLError as exc:
        problems.append(f"{path}: (file): not valid YAML: {yamlfile.describe(exc)}")
    return None


def _paths(base: Path, value: str | list[str]) -> list[Path]:
    return [(base / p).resolve() for p in ([value] if isinstance(value, str) else value)]


def _yaml_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p])
    return out


def _sink(path: Path, sid: str, raw: Any, unconfigured: dict[str, str], problems: list[str]) -> Any:
    """The validated config of one sink, None when it is not configured here (a required field left empty)."""
    if not isinstance(raw, dict):
        problems.append(fmt(path, ("sinks", sid), f"expected a mapping with a type, got {type(raw).__name__}"))
        return None
    try:
        kind = sinks.get(str(raw.get("type", "")))
    except InvalidInput as exc:
        problems.append(fmt(path, ("sinks", sid, "type"), exc.reason))
        return None
    empty = [k for k in kind.required if k in raw and not raw[k]]
    if empty:
        unconfigured[sid] = f"{empty[0]} is empty (is its environment variable set? set it there or in {path.name})"
        return None
    try:
        return kind.config.model_validate(raw)
    except ValidationError as exc:
        problems.extend(pydantic_lines(path, exc, kind.config, ("sinks", sid)))
        return None


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
        raise InvalidInput("\n".join(pydantic_lines(path, exc, MainConfig))) from None
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
            problems.extend(pydantic_lines(fpath, exc, FeedsFile))
            continue
        for i, fc in enumerate(parsed.feeds):
            try:
                src = fc.source()
            except ValueError as exc:
                problems.append(fmt(fpath, ("feeds", i, "interval"), str(exc)))
                continue
            if src.kind not in sources.names():
                problems.append(fmt(fpath, ("feeds", i, "kind"),
                                     f"unknown source kind {src.kind!r} (known: {', '.join(sources.names())})"))
            if src.id in feeds:
                problems.append(fmt(fpath, ("feeds", i, "id"), f"duplicate feed id {src.id!r}"))
            feeds[src.id] = src

    configured: dict[str, Any] = {}
    unconfigured: dict[str, str] = {}
    for sid, scfg in main.sinks.items():
        valid = _sink(path, sid, scfg, unconfigured, problems)
        if valid is not None:
            configured[sid] = valid

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
    problems.extend(_unknown_sinks(watches, set(main.sinks)))
    examples: dict[str, list[Example]] = {}
    files.extend(Path(w.examples) for w in watches if w.examples)  # a changed examples file reloads (retrains)
    try:
        examples = load_watch_examples(watches)
    except InvalidInput as exc:
        problems.append(exc.reason)
    if gazetteer is not None:
        try:
            watchset = WatchSet.compile(watches, gazetteer.ids, set(feeds))
        except InvalidInput as exc:
            problems.append(exc.reason)
    for name, block in (("spikes", main.spikes), ("ops", main.ops)):
        if block is not None and block.sink not in main.sinks:
            problems.append(fmt(path, (name, "sink"), f"unknown sink {block.sink!r}"))
    known_watches = {w.id for w in watches}
    for i, wid in enumerate(main.spikes.watches if main.spikes else ()):
        if wid not in known_watches:
            problems.append(fmt(path, ("spikes", "watches", i), f"unknown watch {wid!r}"))
    try:
        window = int(parse_duration(main.dedup_window))
    except ValueError as exc:
        problems.append(fmt(path, ("dedup_window",), str(exc)))
        window = 7 * 86400
    data_dir = (base / main.data_dir).resolve()
    archive_url = _archive_url(main.archive_url, data_dir, path, problems)
    if not main.web.loopback and not main.web.authenticated:
        problems.append(fmt(path, ("web", "host"), f"the console on {main.web.host} would be open to anyone who "
                             "reaches it: set web.user and web.password, or web.proxy_user_header behind an "
                             "authenticating reverse proxy (or listen on 127.0.0.1)"))
    if bool(main.web.user) != bool(main.web.password):
        problems.append(fmt(path, ("web", "password" if main.web.user else "user"), "user and password go together"))
    if problems or gazetteer is None or watchset is None:
        raise InvalidInput("\n".join(problems))
    given_url = configured_redis_url({"redis_url": main.redis_url}, env)
    redis_url = given_url or embedded_url(data_dir)
    try:
        connect.parse(redis_url)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.reason}") from None
    return Settings(
        path=path, redis_url=redis_url, embedded=given_url is None, data_dir=data_dir, fetch=main.fetch,
        schedule=main.schedule, dedup_window_s=window, feeds=feeds, watches=watches, watchset=watchset,
        gazetteer=gazetteer, sinks=configured, unconfigured_sinks=unconfigured, files=files,
        spikes=main.spikes, ops=main.ops, log_format=main.log_format, archive_url=archive_url,
        archive_keep_s=main.archive_keep, web=main.web, examples=examples,
        wait_replicas=connect.replicas_to_wait_for(redis_url, main.redis_wait_replicas),
    )


def _unknown_sinks(watches: list[Watch], sink_ids: set[str]) -> list[str]:
    """The sinks a watch notifies that the config does not have (the feeds its query names are checked with the
    query, by WatchSet.compile)."""
    out: list[str] = []
    per_file: dict[str, int] = {}
    for w in watches:
        n = per_file.get(w.source, 0)
        per_file[w.source] = n + 1
        for i, sid in enumerate(w.notify):
            if sid not in sink_ids:
                known = ", ".join(sorted(sink_ids)) or "none"
                out.append(f"{w.source}: watches[{n}] {w.id}: notify[{i}]: unknown sink {sid!r} (known: {known})")
    return out


def _archive_url(given: str | None, data_dir: Path, path: Path, problems: list[str]) -> str | None:
    if given is not None and given.strip().lower() in ("off", "none", "false"):
        return None
    url = given or default_url(data_dir)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        # a relative SQLite path is relative to marsad.yaml's folder, like every other path in it
        url = "sqlite:///" + str((path.parent / url[len("sqlite:///"):]).resolve())
    try:
        return check_url(url)
    except InvalidInput as exc:
        problems.append(f"{path}: {exc.reason}")
        return None
