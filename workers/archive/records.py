"""What the archive stores of an article and of an alert delivery, as plain JSON-able records (the unit written to
the database, or kept in the Redis backlog while the database is away), and the way back to typed objects."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from typing import Any

from feeds.alerts.build import ledger_story
from feeds.models import Alert, Article, Classification, EntityHit, Mention, WatchMatch
from feeds.pipeline import article_id
from feeds.query.prefilter import index_tokens

DAY_S = 86_400
# A feed's publication time further in the future than this is a wrong clock or time zone: the archive files
# the article at its fetch time instead, so it does not sit at the top of every list for days.
FUTURE_SLACK_S = 3_600


def classification_json(c: Classification) -> str:
    def hits(xs: tuple[EntityHit, ...]) -> list[dict[str, Any]]:
        return [{"id": h.id, "name": h.name, "mentions": h.mentions, "score": round(h.score, 4),
                 "name_ar": h.name_ar, "country": h.country} for h in xs]
    return json.dumps({"regions": hits(c.regions), "places": hits(c.places), "actors": hits(c.actors),
                       "mentions": [[m.kind, m.id, m.start, m.end, m.surface, m.how] for m in c.mentions]},
                      ensure_ascii=False, separators=(",", ":"))


def classification_from_json(text: str) -> Classification:
    d = json.loads(text)

    def hits(key: str) -> tuple[EntityHit, ...]:
        return tuple(EntityHit(**h) for h in d.get(key, ()))
    mentions = tuple(Mention(kind=m[0], id=m[1], start=m[2], end=m[3], surface=m[4], how=m[5])
                     for m in d.get("mentions", ()))
    return Classification(hits("regions"), hits("places"), hits("actors"), mentions)


def archive_time(published: datetime | None, fetched: float) -> float:
    if published is None:
        return fetched
    t = published.timestamp()
    return fetched if t > fetched + FUTURE_SLACK_S else t


def article_record(key: str, article: Article, feed_id: str, outcome: str, story_id: str | None,
                   classification: Classification, matches: tuple[WatchMatch, ...],
                   fetched: float | None = None) -> dict[str, Any]:
    """One processed article with everything the console shows of it; `key` is the pipeline's article id."""
    fetched = time.time() if fetched is None else fetched
    at = archive_time(article.published, fetched)
    c = classification
    ents = [{"kind": kind, "entity_id": h.id, "mentions": h.mentions, "score": h.score, "rank": rank}
            for kind, xs in (("region", c.regions), ("place", c.places), ("actor", c.actors))
            for rank, h in enumerate(xs)]
    return {
        "key": key, "url": article.url, "feed_id": feed_id, "title": article.title, "text": article.text,
        "lang": article.lang, "source": article.source,
        "published": article.published.timestamp() if article.published else None,
        "fetched": fetched, "at": at, "day": int(at // DAY_S), "story_id": story_id, "outcome": outcome,
        "classification": classification_json(c), "search": index_tokens(article, c), "entities": ents,
        "matches": [{"watch_id": m.watch_id, "relevance": m.relevance,
                     "evidence": json.dumps([[s.start, s.end, s.text] for s in m.evidence], ensure_ascii=False)}
                    for m in matches],
    }


def alert_key(watch_id: str, story_id: str, sink: str) -> str:
    return hashlib.blake2b(f"{watch_id}\0{story_id}\0{sink}".encode(), digest_size=16).hexdigest()


# Statuses a delivery attempt leaves in the archive; the others (not configured, below the sink's severity,
# nothing new from the same outlet) are decisions not to alert and are counted in metrics only.
ARCHIVED_OUTCOMES = {"sent", "digest", "held", "retry", "dead_letter", "already_sent"}


def alert_record(alert: Alert, sink: str, outcome: str, reason: str = "", now: float | None = None) -> dict[str, Any]:
    """One delivery attempt of (watch, story, sink): the row keeps its latest status and counts attempts."""
    kind = "breaking" if alert.breaking else ("follow_up" if alert.follow_up else "alert")
    return {"key": alert_key(alert.watch_id, ledger_story(alert), sink), "alert_id": alert.alert_id,
            "watch_id": alert.watch_id, "story_id": alert.story_id, "sink": sink,
            "article_key": article_id(alert.url) if alert.url else None, "title": alert.title, "url": alert.url,
            "kind": kind, "status": outcome, "error": reason[:2000],
            "payload": json.dumps(alert.to_dict(), ensure_ascii=False), "at": time.time() if now is None else now}
