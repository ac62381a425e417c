"""The console's pages: stories, one story, an article with its entities and evidence marked, search in the
watchlist language, trends, feeds, alerts (with retry), watches and why."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from feeds.errors import InvalidInput
from feeds.models import Span
from workers.app import use_redis
from workers.archive import queries
from workers.archive.records import classification_from_json
from workers.archive.search import article_of, search
from workers.config.limits import MAX_RETRY_COUNTDOWN_S, TASK_HARD_LIMIT_S
from workers.status import collect
from workers.tasks.retry import resend, retry_dead_letters
from workers.web import render
from workers.web.api import TREND_KINDS, console_of, trend_params
from workers.web.common import context, filters, limit_of, templates

router = APIRouter()
# A retry chain not heard from for longer than its longest wait plus one whole run has stopped (quarantined,
# or lost with a worker): only then may a person start another; before, a Retry press added a second chain
# beside the live one. Dead letters may always be sent again. The ledger still refuses a second send.
STALE_RETRY_S = MAX_RETRY_COUNTDOWN_S + TASK_HARD_LIMIT_S


def resendable(status: str, updated: float, now: float) -> bool:
    return status == "dead_letter" or (status == "retry" and now - updated > STALE_RETRY_S)


def page(request: Request, name: str, **extra: Any) -> Response:
    return templates.TemplateResponse(request, name, context(request, **extra))


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/stories", status_code=303)


@router.get("/stories", response_class=HTMLResponse)
def stories(request: Request) -> Response:
    c = console_of(request)
    rows = queries.story_rows(c.runtime().archive(), filters(request, c.clock(), "24h"), limit_of(request))
    return page(request, "stories.html", stories=rows, feed_names=c.feed_names(),
                watches=c.runtime().settings.watches)


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story(request: Request, story_id: str) -> Response:
    c = console_of(request)
    rows = queries.story_articles(c.runtime().archive(), story_id)
    if not rows:
        raise HTTPException(404, "no such story in the archive")
    return page(request, "story.html", story_id=story_id, articles=rows, feed_names=c.feed_names())


@router.get("/articles/{key}", response_class=HTMLResponse)
def article(request: Request, key: str) -> Response:
    c = console_of(request)
    found = queries.article(c.runtime().archive(), key)
    if found is None:
        raise HTTPException(404, "no such article in the archive")
    row = found.row
    cls = classification_from_json(row["classification"])
    evidence = [(s, e) for m in found.matches for s, e, _ in m["evidence"]]
    base = len(row["title"]) + 2 if row["title"] else 0
    return page(request, "article.html", a=row, classification=cls, matches=found.matches,
                title_segments=render.segments(row["title"], 0, cls, evidence) if row["title"] else [],
                text_segments=render.segments(row["text"], base, cls, evidence), feed_names=c.feed_names())


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request) -> Response:
    c = console_of(request)
    rt = c.runtime()
    q = request.query_params.get("q") or ""
    res, error = None, ""
    try:
        res = search(rt.archive(), q, rt.settings.gazetteer.ids, filters(request, c.clock(), "30d"),
                     limit=limit_of(request, 50))
    except InvalidInput as exc:
        error = exc.reason  # a query that does not parse: shown beside the form, with its column
    return page(request, "search.html", q=q, result=res, error=error, feed_names=c.feed_names())


@router.get("/trends", response_class=HTMLResponse)
def trends(request: Request) -> Response:
    c = console_of(request)
    kind, days, _ = trend_params(request)  # a bad one is the page's error (400), as the API says it
    spikes = queries.alert_rows(c.runtime().archive(), kinds=("breaking", "spike", "surge"), limit=50)
    return page(request, "trends.html", kinds=TREND_KINDS, kind=kind, days=str(days), spikes=spikes)


@router.get("/feeds", response_class=HTMLResponse)
def feeds(request: Request) -> Response:
    rt = console_of(request).runtime()
    return page(request, "feeds.html", status=collect(rt.settings, rt.redis))


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request) -> Response:
    rt = console_of(request).runtime()
    status = request.query_params.get("status") or None
    rows = queries.alert_rows(rt.archive(), status, limit=limit_of(request, 200))
    now = console_of(request).clock()
    return page(request, "alerts.html", alerts=rows, status=status, dead=rt.dead.count(),
                resend={r["key"] for r in rows if resendable(r["status"], r["updated"], now)},
                done=request.query_params.get("done"))


@router.post("/alerts/{key}/retry")
def retry_one(request: Request, key: str) -> Response:
    rt = console_of(request).runtime()
    found = queries.alert_payload(rt.archive(), key)
    if found is None:
        raise HTTPException(404, "no such alert")
    status, updated = queries.alert_status(rt.archive(), key) or ("", 0.0)
    if not resendable(status, updated, console_of(request).clock()):
        raise HTTPException(409, f"this alert is {status}: only a dead letter, or a retry not heard from for "
                                 f"{STALE_RETRY_S // 60} minutes, can be sent again")
    use_redis(rt.settings.redis_url)
    resend(*found)
    return RedirectResponse("/alerts?done=1", status_code=303)


@router.post("/alerts/retry-failed")
def retry_failed(request: Request) -> Response:
    rt = console_of(request).runtime()
    use_redis(rt.settings.redis_url)
    n = retry_dead_letters(rt.dead)
    return RedirectResponse(f"/alerts?done={n}", status_code=303)


@router.get("/watches", response_class=HTMLResponse)
def watches(request: Request) -> Response:
    c = console_of(request)
    rt = c.runtime()
    counts = queries.watch_counts(rt.archive(), c.clock() - 7 * 86400)
    return page(request, "watches.html", watches=rt.settings.watches, counts=counts)


@router.get("/watches/{watch_id}", response_class=HTMLResponse)
def watch(request: Request, watch_id: str) -> Response:
    c = console_of(request)
    rt = c.runtime()
    w = rt.watch(watch_id)
    if w is None:
        raise HTTPException(404, "no such watch")
    res = search(rt.archive(), None, rt.settings.gazetteer.ids,
                 replace(filters(request, c.clock(), "30d"), watch=watch_id), limit=limit_of(request, 50))
    return page(request, "watch.html", w=w, hits=res.hits, feed_names=c.feed_names())


@router.get("/watches/{watch_id}/why/{key}", response_class=HTMLResponse)
def why(request: Request, watch_id: str, key: str) -> Response:
    c = console_of(request)
    rt = c.runtime()
    if rt.watch(watch_id) is None:
        raise HTTPException(404, "no such watch")
    found = queries.article(rt.archive(), key)
    if found is None:
        raise HTTPException(404, "no such article in the archive")
    art = article_of(_Row(found.row))
    exp = rt.settings.watchset.explain(watch_id, art, classification_from_json(found.row["classification"]))
    return page(request, "why.html", w=rt.watch(watch_id), a=found.row, exp=exp)


class _Row:
    """A dict as the attribute row search.article_of reads."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


def spans_text(spans: tuple[Span, ...]) -> str:
    return " · ".join(s.text for s in spans)


templates.env.filters["spans"] = spans_text
