"""What the console's routes share: the runtime behind them, the templates, and reading filters from a URL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from feeds.errors import InvalidInput, did_you_mean
from feeds.models import MentionKind
from workers.archive.search import Filters
from workers.config.env import parse_duration
from workers.runtime import Runtime
from workers.web import render

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape on for .html
templates.env.filters["when"] = render.when
templates.env.filters["href"] = render.href
templates.env.globals["ago"] = render.ago
# Results per page at most: a console page is read by a person; the API pages with the same limit.
MAX_LIMIT = 500


class Console:
    """What the routes share: the runtime (config with hot reload, Redis, the archive) and the clock."""

    def __init__(self, runtime: Callable[[], Runtime], clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.clock = clock

    def feed_names(self) -> dict[str, str]:
        return {f.id: f.name or f.id for f in self.runtime().settings.feeds.values()}

    def entity_name(self, kind: str, eid: str) -> str:
        if kind == "watch":
            w = self.runtime().watch(eid)
            return w.name if w else eid
        e = self.runtime().settings.gazetteer.get(kind, eid)  # type: ignore[arg-type]
        return f"{e.name_ar} · {e.name}" if e and e.name_ar else (e.name if e else eid)


def parse_time(value: str | None, now: float, end: bool = False) -> float | None:
    """"6h" / "7d" (that long ago), or an ISO date or time (a date as --until means its whole day)."""
    if not value or not value.strip():
        return None
    v = value.strip()
    try:
        return now - parse_duration(v)
    except ValueError:
        pass
    try:
        d = datetime.fromisoformat(v)
    except ValueError:
        raise InvalidInput(f"{value!r}: not a duration (6h, 7d) or an ISO date") from None
    d = d if d.tzinfo else d.replace(tzinfo=UTC)
    return d.timestamp() + (86400 - 1e-3 if end and len(v) == 10 else 0)


def filters(request: Request, now: float, default_since: str | None = "7d") -> Filters:
    p = request.query_params

    def many(name: str) -> tuple[str, ...]:
        return tuple(x.strip() for v in p.getlist(name) for x in v.split(",") if x.strip())
    since = p.get("since") if "since" in p else default_since
    f = Filters(since=parse_time(since, now), until=parse_time(p.get("until"), now, end=True),
                feeds=many("feed"), regions=tuple(x.upper() for x in many("region")), places=many("place"),
                actors=many("actor"), watch=p.get("watch") or None, story=p.get("story") or None)
    _known(request.app.state.console.runtime(), f)
    return f


def _known(rt: Runtime, f: Filters) -> None:
    """A filter naming an entity the gazetteer does not have is a mistake to show (as `place:nosuch` in a query
    is), not a silent empty result. Feeds and watches are not checked: the archive keeps those since removed
    from the config, and they stay searchable."""
    gazetteer = rt.settings.gazetteer
    kinds: tuple[tuple[MentionKind, tuple[str, ...]], ...] = (("region", f.regions), ("place", f.places),
                                                              ("actor", f.actors))
    for kind, given in kinds:
        for value in given:  # a lookup each; the whole id list only to name the near ones of a wrong one
            if gazetteer.get(kind, value) is None:
                raise InvalidInput(f"{kind}: unknown id {value[:60]!r}"
                                   + did_you_mean(value, gazetteer.ids(kind), cutoff=0.6))


def limit_of(request: Request, default: int = 100) -> int:
    try:
        return max(1, min(MAX_LIMIT, int(request.query_params.get("limit") or default)))
    except ValueError:
        raise InvalidInput("limit: not a number") from None


def context(request: Request, **extra: Any) -> dict[str, Any]:
    """What every page template gets: the console, the request's filters as given, the time."""
    console: Console = request.app.state.console
    return {"console": console, "now": console.clock(), "params": request.query_params,
            "user": getattr(request.state, "user", ""), **extra}
