"""`marsad backfill --archive`: the watches (or a query not saved yet) over what the archive holds, with the same
search the console uses, as the same report as a backfill over files."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from feeds.evaluation.backfill import MAX_ENTITIES, MAX_TERMS, Hit, Report, Tally
from feeds.models import MentionKind, Watch
from workers.archive.search import Filters, count, search
from workers.archive.store import Archive


def run(archive: Archive, watches: Sequence[Watch], known_ids: Callable[[MentionKind], set[str]], *,
        since: datetime | None = None, until: datetime | None = None) -> Report:
    """Every archived article (in the date range) each watch matches; the index narrows, the watch decides."""
    started = time.monotonic()
    f = Filters(since=since.timestamp() if since else None, until=until.timestamp() if until else None)
    report = Report([Tally(w) for w in watches], [f"archive: {archive.engine.url.render_as_string()}"])
    report.articles = count(archive, f)
    try:
        for t in report.tallies:
            res = search(archive, None, known_ids, f, limit=2**62, budget=None, watch=t.watch)
            for h in res.hits:
                terms = tuple(dict.fromkeys(" ".join(s.text.split()) for s in h.evidence))[:MAX_TERMS]
                t.hits.append(Hit(id=h.key, url=h.url, title=h.title, outlet=h.feed_id,
                                  date=datetime.fromtimestamp(h.at, UTC), regions=h.regions[:MAX_ENTITIES],
                                  actors=h.actors[:MAX_ENTITIES], terms=terms))
    except KeyboardInterrupt:
        report.interrupted = True
    report.seconds = time.monotonic() - started
    return report
