"""Load watches from YAML files: field validation with "file: field: message" errors, duplicate ids; the
labelled examples files they name, with "file:line" errors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from feeds import yamlfile
from feeds.errors import InvalidInput
from feeds.models import SEVERITY_ORDER, Watch
from feeds.query.syntax import QueryError, parse_query
from feeds.relevance.examples import Example, load_examples

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FIELDS = ("id", "name", "query", "notify", "severity", "follow_ups", "min_mentions", "threshold", "breaking",
           "examples")


def _yaml_files(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        else:
            out.append(p)
    return out


def _watch(path: Path, i: int, item: Any, problems: list[str]) -> Watch | None:
    where = f"{path}: watches[{i}]"
    if not isinstance(item, dict):
        problems.append(f"{where}: expected a mapping with id, name, query, got {type(item).__name__}")
        return None
    wid = item.get("id")
    if not isinstance(wid, str) or not _ID_RE.match(wid):
        problems.append(f"{where}: id: expected lowercase letters, digits, '-' or '_', got {yamlfile.short(wid)}")
        return None
    where = f"{where} {wid}"
    before = len(problems)
    for key in item:
        if key not in _FIELDS:
            problems.append(f"{where}: {key}: unknown field (known: {', '.join(_FIELDS)})")
    query = item.get("query")
    if not isinstance(query, str) or not query.strip():
        problems.append(f"{where}: query: expected a non-empty string, got {yamlfile.short(query)}")
    name = item.get("name", wid)
    if not isinstance(name, str):
        problems.append(f"{where}: name: expected a string, got {yamlfile.short(name)}")
    notify = item.get("notify", [])
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not all(isinstance(s, str) for s in notify):
        problems.append(f"{where}: notify: expected a list of sink ids, got {yamlfile.short(notify)}")
    severity = item.get("severity", "medium")
    if severity not in SEVERITY_ORDER:
        problems.append(f"{where}: severity: expected one of {', '.join(SEVERITY_ORDER)}, "
                        f"got {yamlfile.short(severity)}")
    follow_ups = item.get("follow_ups", False)
    if not isinstance(follow_ups, bool):
        problems.append(f"{where}: follow_ups: expected true or false, got {yamlfile.short(follow_ups)}")
    breaking = item.get("breaking", False)
    if not isinstance(breaking, bool):
        problems.append(f"{where}: breaking: expected true or false, got {yamlfile.short(breaking)}")
    min_mentions = item.get("min_mentions", 1)
    if isinstance(min_mentions, bool) or not isinstance(min_mentions, int) or min_mentions < 1:
        problems.append(f"{where}: min_mentions: expected a whole number ≥ 1, got {yamlfile.short(min_mentions)}")
    threshold = item.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                                  or threshold <= 0):
        problems.append(f"{where}: threshold: expected a positive number or null, got {yamlfile.short(threshold)}")
    examples = item.get("examples")
    if examples is not None and (not isinstance(examples, str) or not examples.strip()):
        problems.append(f"{where}: examples: expected the path of a JSON-lines file, got {yamlfile.short(examples)}")
    if len(problems) > before:
        if isinstance(query, str) and query.strip():
            # the query's own syntax error now too, not only after the other fields are fixed (entity ids
            # and feeds are checked once the watch loads, by WatchSet.compile)
            try:
                parse_query(query)
            except QueryError as exc:
                problems.append(f"{where}: query: {exc.reason}")
        return None
    return Watch(id=wid, name=name, query=str(query), notify=tuple(notify), severity=severity,
                 follow_ups=follow_ups, breaking=breaking, min_mentions=min_mentions,
                 threshold=None if threshold is None else float(threshold), source=str(path),
                 # relative to the folder of the watchlist file that names it, like every path in a config file
                 examples=str((path.parent / examples.strip()).resolve()) if examples else None)


def load_watches(paths: Sequence[Path]) -> list[Watch]:
    """Watches from YAML files or folders of *.yaml; InvalidInput listing every problem, one per line."""
    problems: list[str] = []
    watches: list[Watch] = []
    first_seen: dict[str, str] = {}
    for path in _yaml_files(paths):
        try:
            data = yamlfile.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(f"{path}: file: cannot read: {exc.strerror or exc}")
            continue
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            reason = yamlfile.describe(exc) if isinstance(exc, yaml.YAMLError) else f"not UTF-8: {exc.reason}"
            problems.append(f"{path}: yaml: {reason}")
            continue
        if data is None:
            continue  # an empty file holds no watches
        if not isinstance(data, dict) or not isinstance(data.get("watches", []), list):
            problems.append(f"{path}: watches: expected a mapping with a 'watches:' list")
            continue
        for key in data:
            if key != "watches":
                problems.append(f"{path}: {key}: unknown top-level field (expected 'watches')")
        for i, item in enumerate(data.get("watches") or []):
            w = _watch(path, i, item, problems)
            if w is None:
                continue
            if w.id in first_seen:
                problems.append(f"{path}: watches[{i}] {w.id}: id: duplicate, "
                                f"first defined in {first_seen[w.id]}")
                continue
            first_seen[w.id] = str(path)
            watches.append(w)
    if problems:
        raise InvalidInput("\n".join(problems))
    return watches


def load_watch_examples(watches: Sequence[Watch]) -> dict[str, list[Example]]:
    """The labelled examples of every watch that names an `examples:` file, by watch id; InvalidInput listing
    every problem, one per line, as "<file>:<line>: <field>: <message> (examples of watch <id>)"."""
    problems: list[str] = []
    out: dict[str, list[Example]] = {}
    for w in watches:
        if w.examples is None:
            continue
        try:
            out[w.id] = load_examples(Path(w.examples))
        except InvalidInput as exc:
            problems.extend(f"{line} (examples of watch {w.id})" for line in exc.reason.splitlines())
    if problems:
        raise InvalidInput("\n".join(problems))
    return out
