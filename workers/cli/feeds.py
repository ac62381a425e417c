"""The `marsad feeds` commands: import and export OPML, add a feed discovered from a site's home page."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import click
import yaml
from pydantic import ValidationError

from feeds import yamlfile
from feeds.errors import InvalidInput, MarsadError
from feeds.models import FeedSource
from workers.cli.common import config_option

INTO_HELP = "feeds YAML file to add to (default: the first feeds file marsad.yaml names)."


def _fail(message: str) -> NoReturn:
    for line in message.splitlines():
        click.echo(line, err=True)
    sys.exit(1)


def _main_config(config: str | None) -> tuple[Path, Any]:
    """(path of marsad.yaml, its validated MainConfig). Only this file: watchlists etc. are not needed here."""
    from workers.config.env import DEFAULT_CONFIG, expand_env
    from workers.config.models import MainConfig

    path = Path(config or os.environ.get("MARSAD_CONFIG") or DEFAULT_CONFIG).resolve()
    try:
        raw = expand_env(yamlfile.loads(path.read_text(encoding="utf-8")), os.environ)
        return path, MainConfig.model_validate(raw or {})
    except FileNotFoundError:
        _fail(f"{path}: (file): not found")
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        _fail(f"{path}: (file): not valid YAML: "
              + (yamlfile.describe(e) if isinstance(e, yaml.YAMLError) else "not UTF-8"))
    except ValidationError as e:
        _fail("\n".join(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()))


def _feed_files(path: Path, main: Any) -> list[Path]:
    out: list[Path] = []
    for p in [main.feeds] if isinstance(main.feeds, str) else main.feeds:
        full = (path.parent / p).resolve()
        out.extend(sorted(full.glob("*.yaml")) + sorted(full.glob("*.yml")) if full.is_dir() else [full])
    return out


def _read_feeds(file: Path) -> list[FeedSource]:
    """The feeds of one file, validated as `marsad check` does; a missing file has none."""
    from workers.config.models import FeedsFile

    if not file.exists():
        return []
    try:
        data = yamlfile.loads(file.read_text(encoding="utf-8"))
        if data is None:
            return []
        return [fc.source() for fc in FeedsFile.model_validate(data).feeds]
    except (yaml.YAMLError, UnicodeDecodeError, ValidationError, ValueError) as e:
        raise InvalidInput(f"{file}: not a valid feeds file: {e}".replace("\n", " ")[:2000]) from None


def same_url_key(url: str) -> str:
    """URLs that name the same feed: scheme and host case, default port, fragment and trailing slash ignored."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/") or "/", parts.query, ""))


class _Known:
    """The feeds configured so far, by id and by `same_url_key`: each check and addition is one look-up, so an
    import of n outlines costs O(n), not a rebuild of both maps per outline."""

    def __init__(self, feeds: Sequence[FeedSource]) -> None:
        self.ids: dict[str, FeedSource] = {}
        self.urls: dict[str, FeedSource] = {}
        for f in feeds:
            self.add(f)

    def add(self, f: FeedSource) -> None:
        self.ids.setdefault(f.id, f)
        self.urls.setdefault(same_url_key(f.url), f)

    def conflict(self, f: FeedSource) -> str | None:
        if f.id in self.ids:
            return f"feed id {f.id!r} is already configured (for {self.ids[f.id].url})"
        same = self.urls.get(same_url_key(f.url))
        return None if same is None else f"{f.url} is already configured as feed {same.id!r}"


def _fields(feed: FeedSource) -> dict[str, Any]:
    """A feed as the feeds file writes it: defaults left out."""
    return ({"id": feed.id, "url": feed.url, "name": feed.name}
            | ({} if feed.interval_s == FeedSource.interval_s else {"interval": f"{feed.interval_s}s"})
            | ({} if feed.fetch_pages else {"fetch_pages": False}))


def _yaml_line(feed: FeedSource, indent: str) -> str:
    # JSON values are valid YAML flow scalars; ensure_ascii=False keeps Arabic names readable.
    items = ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in _fields(feed).items())
    return f"{indent}- {{{items}}}\n"


def append_feeds(file: Path, feeds: Sequence[FeedSource]) -> None:
    """Add `feeds` to a feeds YAML file, keeping its entries, comments and layout; the result is re-validated.

    New entries go at the end as one flow-style line each; an empty `feeds: []` becomes `feeds:` so they can
    follow it. A file whose list still cannot take lines appended is rewritten from its parsed content, which
    drops its comments.
    """
    from workers.config.models import FeedConfig

    before = _read_feeds(file)
    text = file.read_text(encoding="utf-8") if file.exists() else ""
    if not text.strip():
        text = "feeds:\n"
    text = re.sub(r"^feeds:[ \t]*\[[ \t]*\]", "feeds:", text, count=1, flags=re.M)  # keeps a trailing comment
    item = re.search(r"^([ \t]*)- ", text, re.M)
    indent = item.group(1) if item else "  "
    candidate = text + ("" if text.endswith("\n") else "\n") + "".join(_yaml_line(f, indent) for f in feeds)
    try:
        ok = [(f.id, f.url) for f in _parse(candidate)] == [(f.id, f.url) for f in (*before, *feeds)]
    except InvalidInput:
        ok = False
    if not ok:
        data = yamlfile.loads(text) or {}
        data["feeds"] = list(data.get("feeds") or []) + [_fields(f) for f in feeds]
        candidate = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
    for f in feeds:  # the same validation as loading the config: a file we write always loads
        FeedConfig(id=f.id, url=f.url, name=f.name, interval=f.interval_s, fetch_pages=f.fetch_pages).source()
    _parse(candidate)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(candidate)
    os.replace(tmp, file)  # atomic: a running worker's hot reload never sees half a file


def _parse(text: str) -> list[FeedSource]:
    from workers.config.models import FeedsFile

    try:
        return [fc.source() for fc in FeedsFile.model_validate(yamlfile.loads(text)).feeds]
    except (yaml.YAMLError, ValidationError, ValueError) as e:
        raise InvalidInput(str(e)) from None


def _targets(config: str | None, into: str | None) -> tuple[Path, list[FeedSource], Any]:
    """(file to write, every feed configured anywhere, MainConfig or None when only --into was given)."""
    main: Any = None
    files: list[Path] = []
    if config or into is None or (Path(os.environ.get("MARSAD_CONFIG") or "config/marsad.yaml").exists()):
        path, main = _main_config(config)
        files = _feed_files(path, main)
    target = Path(into).resolve() if into else (files[0] if files else None)
    if target is None:
        _fail("no feeds file: give --into FILE")
    existing: list[FeedSource] = []
    try:
        for f in dict.fromkeys([*files, target]):
            existing.extend(_read_feeds(f))
    except InvalidInput as e:
        _fail(e.reason)
    return target, existing, main


def _feed_id(url: str, title: str) -> str:
    from feeds.ingest.opml import slug

    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    path = re.sub(r"(?i)\b(?:feeds?|rss|atom|xml|index|api|v\d+)\b|\.(?:xml|rss|php)$", " ", parts.path)
    return slug(f"{host} {path}", slug(title))


@click.group()
def feeds() -> None:
    """Manage the feed list: import/export OPML, add a feed found from a site's home page."""


@feeds.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--into", type=click.Path(dir_okay=False), help=INTO_HELP)
@config_option
@click.option("--skip-existing", is_flag=True, help="Skip feeds already configured instead of refusing.")
def import_(opml_file: str, into: str | None, config: str | None, skip_existing: bool) -> None:
    """Add every feed of an OPML file (nested folders flattened) to the feeds YAML."""
    from feeds.ingest.opml import read_opml

    target, existing, main = _targets(config, into)
    repeats: list[str] = []
    try:
        found = read_opml(Path(opml_file).read_bytes(), repeats)
    except InvalidInput as e:
        _fail(f"{opml_file}: {e.reason}")
    new: list[FeedSource] = []
    skipped: list[str] = repeats  # the same feed twice in one file: imported once, the other said and counted
    known = _Known(existing)
    for f in found:
        problem = known.conflict(f)
        if problem and skip_existing:
            skipped.append(problem)
        elif problem:
            _fail(f"{opml_file}: nothing imported: {problem} (use --skip-existing to add only the rest)")
        else:
            new.append(f)
            known.add(f)
    if new:
        try:
            append_feeds(target, new)
        except (InvalidInput, ValidationError, ValueError) as e:
            _fail(f"{target}: nothing imported: {getattr(e, 'reason', e)}")
    for line in skipped:
        click.echo(f"skipped: {line}", err=True)
    for line in _unreachable(new, main):
        click.echo(f"warning: {line}", err=True)
    click.echo(f"imported {len(new)} feeds into {target}" + (f" ({len(skipped)} skipped)" if skipped else ""))


def _unreachable(feeds: list[FeedSource], main: Any) -> list[str]:
    """Imported feeds whose host is an address the fetcher refuses (written as an IP, or localhost): each poll
    of them will fail until the config allows it. Names are not resolved here (that is the fetch's job)."""
    from feeds.ingest.http import ALLOW_HINT
    from feeds.ingest.netguard import address_block_reason

    if main is not None and main.fetch.allow_private_addresses:
        return []
    out = []
    for f in feeds:
        host = (urlsplit(f.url).hostname or "").strip("[]")
        try:
            reason = address_block_reason("127.0.0.1" if host == "localhost" else str(ipaddress.ip_address(host)))
        except ValueError:
            continue  # a name: checked when it is fetched
        if reason:
            out.append(f"feed {f.id}: {reason} ({ALLOW_HINT}); its polls will fail")
    return out


@feeds.command("export")
@config_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def export(config: str | None, output: str | None) -> None:
    """Print the configured feeds as OPML 2.0 (ids kept, so an import of it round-trips)."""
    from feeds.ingest.opml import write_opml

    path, main = _main_config(config)
    try:
        found = [f for file in _feed_files(path, main) for f in _read_feeds(file)]
    except InvalidInput as e:
        _fail(e.reason)
    doc = write_opml(found)
    if output:
        Path(output).write_text(doc, encoding="utf-8")
        click.echo(f"exported {len(found)} feeds to {output}", err=True)
    else:
        click.echo(doc, nl=False)


@feeds.command("add")
@click.argument("url")
@click.option("--id", "feed_id", help="Feed id (default: made from the feed's host and path, without words such "
                                       "as feed, rss, xml).")
@click.option("--name", help="Display name (default: the feed's title).")
@click.option("--into", type=click.Path(dir_okay=False), help=INTO_HELP)
@config_option
def add(url: str, feed_id: str | None, name: str | None, into: str | None, config: str | None) -> None:
    """Add the feed at URL, or the feed a site's home page advertises (<link rel=alternate>)."""
    from feeds.ingest.http import FetchPolicy, fetch
    from feeds.ingest.opml import find_feed
    from workers.config.models import FeedConfig

    if feed_id is not None:
        try:
            FeedConfig(id=feed_id, url="https://example.org/")
        except ValidationError:
            _fail(f"--id {feed_id!r}: use lower-case letters, digits, '.', '_' and '-' (starting with a letter "
                  "or digit)")
    target, existing, main = _targets(config, into)
    policy = main.fetch.policy() if main is not None else FetchPolicy()
    if urlsplit(url).scheme not in ("http", "https"):  # urlsplit lower-cases it: HTTP://… is http
        _fail(f"{url}: only http(s) URLs can be added")
    try:
        # fetch's default Accept takes HTML too: the URL is usually a home page
        feed_url, title = find_feed(url, partial(fetch, policy=policy))
    except MarsadError as e:
        _fail(f"{url}: {e.reason}")
    feed = FeedSource(id=feed_id or _feed_id(feed_url, title), url=feed_url, name=name or title or feed_url)
    problem = _Known(existing).conflict(feed)
    if problem:
        same_id = any(f.id == feed.id for f in existing)
        _fail(f"not added: {problem}" + (" (give this one another with --id)" if same_id else ""))
    try:
        append_feeds(target, [feed])
    except (InvalidInput, ValidationError, ValueError) as e:
        _fail(f"not added: {getattr(e, 'reason', e)}".replace("\n", " "))
    click.echo(f"added {feed.id}: {feed.url} ({feed.name}) to {target}")
