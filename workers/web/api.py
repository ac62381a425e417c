"""The console's JSON API: what the pages show, as data (stories, articles, search, trends, feeds, alerts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from feeds.errors import InvalidInput
from workers.archive import queries
from workers.archive.records import classification_from_json
from workers.archive.search import search
from workers.status import collect
from workers.web.common import Console, filters, limit_of, parse_time

router = APIRouter(prefix="/api")
TREND_KINDS = ("region", "place", "actor", "watch")
# Longest trend window: a year of days is 365 points per line, still one small query per line.
MAX_TREND_DAYS = 366


# The query parameters, for the OpenAPI schema (the routes read them from the request, through the same
# `filters` the pages use, so they are declared here rather than as function arguments).
_PARAMS = {
    "q": "a query in the watchlist language (docs/watchlists.md)",
    "since": "active since: a duration back (6h, 7d) or an ISO date or time",
    "until": "up to: an ISO date (the whole day) or time",
    "feed": "only articles of this feed id (repeatable, or comma-separated)",
    "region": "only articles about this country code (repeatable)",
    "place": "only articles naming this gazetteer place id (repeatable)",
    "actor": "only articles naming this gazetteer actor id (repeatable)",
    "watch": "only articles this watch matched",
    "story": "only articles of this story",
    "limit": "results at most (1 to 500)",
    "kind": "what to count: region, place, actor or watch",
    "days": "days back from `until` (1 to 366)",
    "top": "lines at most (1 to 20)",
    "status": "only alerts in this delivery state",
}
_FILTERS = ("since", "until", "feed", "region", "place", "actor", "watch", "story", "limit")


def documented(*names: str) -> dict[str, Any]:
    """openapi_extra declaring these query parameters (all optional strings)."""
    return {"parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                            "description": _PARAMS[n]} for n in names]}


def console_of(request: Request) -> Console:
    c: Console = request.app.state.console
    return c


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    rt = console_of(request).runtime()
    return {"ok": True, "archive": rt.settings.archive_url is not None,
            "archive_backlog": rt.archive_writer.backlog()}


@router.get("/stories", openapi_extra=documented(*_FILTERS))
def stories(request: Request) -> dict[str, Any]:
    c = console_of(request)
    rows = queries.story_rows(c.runtime().archive(), filters(request, c.clock(), "24h"), limit_of(request))
    names = c.feed_names()
    for r in rows:
        r["outlet_list"] = [{"id": o, "name": names.get(o, o)} for o in r.pop("outlet_ids")]  # `outlets`: count
    return {"stories": rows}


@router.get("/stories/{story_id}")
def story(request: Request, story_id: str) -> dict[str, Any]:
    rows = queries.story_articles(console_of(request).runtime().archive(), story_id)
    if not rows:
        raise HTTPException(404, "no such story in the archive")
    return {"story_id": story_id, "articles": rows}


@router.get("/articles/{key}")
def article(request: Request, key: str) -> dict[str, Any]:
    found = queries.article(console_of(request).runtime().archive(), key)
    if found is None:
        raise HTTPException(404, "no such article in the archive")
    row = dict(found.row)
    row.pop("search", None)
    row["classification"] = classification_from_json(row["classification"])
    return {"article": row, "matches": found.matches}


@router.get("/search", openapi_extra=documented("q", *_FILTERS))
def search_api(request: Request) -> dict[str, Any]:
    c = console_of(request)
    rt = c.runtime()
    res = search(rt.archive(), request.query_params.get("q"), rt.settings.gazetteer.ids,
                 filters(request, c.clock(), None), limit=limit_of(request, 50))
    return {"hits": [{"key": h.key, "url": h.url, "feed_id": h.feed_id, "title": h.title, "at": h.at,
                      "story_id": h.story_id, "evidence": [[s.start, s.end, s.text] for s in h.evidence]}
                     for h in res.hits],
            "scanned": res.scanned, "complete": res.complete, "narrowed": res.narrowed,
            "ms": round(res.seconds * 1000, 1)}


def trend_params(request: Request) -> tuple[str, int, int]:
    """kind, days and top of a trends request (the page's and the API's), or InvalidInput naming the bad one."""
    p = request.query_params
    kind = p.get("kind") or "region"
    if kind not in TREND_KINDS:
        raise InvalidInput(f"kind: one of {', '.join(TREND_KINDS)}, not {kind[:40]!r}")
    nums: list[int] = []
    for name, default, most in (("days", 14, MAX_TREND_DAYS), ("top", 8, 20)):
        raw = (p.get(name) or str(default)).strip()
        if not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= most:  # length first: int() of a huge one
            raise InvalidInput(f"{name}: a whole number from 1 to {most}, not {raw[:40]!r}")
        nums.append(int(raw))
    return kind, nums[0], nums[1]


def trend_data(request: Request) -> dict[str, Any]:
    c = console_of(request)
    p = request.query_params
    kind, days, top = trend_params(request)
    now = c.clock()
    until = parse_time(p.get("until"), now, end=True) or now
    data = queries.trends(c.runtime().archive(), kind, until - days * 86400 + 1, until, top)
    for s in data["series"]:
        s["name"] = c.entity_name(kind, s["id"])
    return data


@router.get("/trends", openapi_extra=documented("kind", "days", "top", "until"))
def trends(request: Request) -> dict[str, Any]:
    return trend_data(request)


@router.get("/feeds")
def feeds(request: Request) -> dict[str, Any]:
    rt = console_of(request).runtime()
    return collect(rt.settings, rt.redis)


@router.get("/alerts", openapi_extra=documented("status", "limit"))
def alerts(request: Request) -> dict[str, Any]:
    rows = queries.alert_rows(console_of(request).runtime().archive(), request.query_params.get("status") or None,
                              limit=limit_of(request, 200))
    return {"alerts": rows}
