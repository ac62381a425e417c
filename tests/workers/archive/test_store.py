"""Archive writes on SQLite and PostgreSQL: upserts by key (a redelivered task writes nothing twice), stories
counted once per article and outlet, alert statuses, retention, and migrations racing at start."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import sqlalchemy as sa

from feeds.models import Alert, Span, WatchMatch
from feeds.pipeline import article_id
from tests.workers.archive.conftest import classified, record
from workers.archive import engine, queries
from workers.archive.records import alert_record, article_record
from workers.archive.schema import articles, entities, matches, stories
from workers.archive.store import Archive


def test_articles_are_written_once_whatever_the_redeliveries(archive: Archive) -> None:
    rows = classified(20)
    recs = [record(d, a, c) for d, a, c in rows]
    assert archive.write_articles(recs) == 20
    assert archive.write_articles(recs) == 0  # the same records again: a redelivered task
    with archive.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(articles)).scalar() == 20
        n_entities = conn.execute(sa.select(sa.func.count()).select_from(entities)).scalar()
    assert n_entities == sum(len(r["entities"]) for r in recs) > 0
    found = queries.article(archive, recs[0]["key"])
    assert found is not None and found.row["title"] == rows[0][1].title and found.row["text"] == rows[0][1].text


def test_a_story_counts_its_articles_and_outlets_and_starts_at_its_earliest(archive: Archive) -> None:
    rows = classified(6)
    recs = [record(d, a, c, story="story-1") for d, a, c in rows]
    for r in reversed(recs):  # arriving out of publication order
        archive.write_articles([r])
    archive.write_articles(recs)  # all redelivered
    [s] = queries.story_rows(archive, queries.Filters(since=0))
    assert s["size"] == 6
    assert s["outlets"] == len({r["feed_id"] for r in recs}) == len(s["outlet_ids"])
    first = min(recs, key=lambda r: r["at"])
    assert s["first_seen"] == first["at"] and s["title"] == first["title"][:500]
    assert s["last_seen"] == max(r["at"] for r in recs)


def _alert(watch: str = "idlib") -> Alert:
    return Alert(watch_id=watch, watch_name="Idlib", severity="high", story_id="s1", url="https://x.example/a",
                 title="<b>عنوان</b>", feed_id="f", feed_name="F", published=None)


def test_an_alert_keeps_its_latest_status_and_counts_its_tries(archive: Archive) -> None:
    a = _alert()
    archive.write_alert(alert_record(a, "slack", "retry", "HTTP 503", now=1.0))
    archive.write_alert(alert_record(a, "slack", "sent", now=2.0))
    archive.write_alert(alert_record(a, "slack", "already_sent", now=3.0))  # a redelivery after the send
    archive.write_alert(alert_record(a, "email", "dead_letter", "550 refused", now=4.0))
    rows = {r["sink"]: r for r in queries.alert_rows(archive)}
    assert rows["slack"]["status"] == "sent" and rows["slack"]["attempts"] == 2
    assert rows["email"]["status"] == "dead_letter" and rows["email"]["error"] == "550 refused"
    assert rows["slack"]["alert_id"] == rows["email"]["alert_id"] == a.alert_id
    payload, sink = queries.alert_payload(archive, rows["email"]["key"]) or ({}, "")
    assert Alert.from_dict(payload) == a and sink == "email"


def test_the_row_keeps_the_alert_that_was_sent_when_two_articles_of_a_story_race(archive: Archive) -> None:
    # c1 and c2 join one story while the sink is down: each has its own retry chain, the ledger lets one send
    import dataclasses

    c1 = _alert()
    c2 = dataclasses.replace(c1, url="https://y.example/c2", title="غارة على إدلب")
    archive.write_alert(alert_record(c1, "hook", "retry", "connection failed", now=1.0))
    archive.write_alert(alert_record(c2, "hook", "retry", "connection failed", now=2.0))
    archive.write_alert(alert_record(c2, "hook", "sent", now=3.0))
    archive.write_alert(alert_record(c1, "hook", "retry", "another worker is sending this alert", now=3.5))
    archive.write_alert(alert_record(c1, "hook", "already_sent", now=4.0))
    [row] = queries.alert_rows(archive)
    assert (row["status"], row["url"], row["title"], row["alert_id"]) == ("sent", c2.url, c2.title, c2.alert_id)
    assert row["error"] == "" and row["attempts"] == 4
    payload, _ = queries.alert_payload(archive, row["key"]) or ({}, "")
    assert Alert.from_dict(payload) == c2


def test_prune_deletes_what_is_older_than_the_cutoff_in_bounded_steps(archive: Archive) -> None:
    rows = classified(30)
    old = [record(d, a, c, story="old") | {"fetched": 100.0} for d, a, c in rows[:20]]
    new = [record(d, a, c, story="new") for d, a, c in rows[20:]]
    archive.write_articles(old + new)
    archive.write_alert(alert_record(_alert(), "slack", "sent", now=50.0))
    assert archive.prune(1000.0, limit=15) == 15
    assert archive.prune(1000.0, limit=15) == 5
    assert archive.prune(1000.0) == 0
    assert queries.size(archive)["articles"] == 10 and queries.alert_rows(archive) == []
    with archive.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entities)).scalar() == sum(
            len(r["entities"]) for r in new)


def _open(url: str) -> str:
    return str(engine.current(Archive(url).engine))


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        revisions = pool.map(_open, [url] * 4)
    assert revisions == [engine.head()] * 4


def test_matches_keep_their_evidence_and_the_relevance_models_score(archive: Archive) -> None:
    [(d, a, c)] = classified(1)
    ev = (Span(0, 4, a.document[0:4]),)
    rec = article_record(article_id(a.url), a, d["src"], "new", "s1", c,
                         (WatchMatch("w-model", ev, relevance=0.83), WatchMatch("w-query", ev)), fetched=2e9)
    archive.write_articles([rec])
    with archive.engine.connect() as conn:
        got = {r.watch_id: r for r in conn.execute(sa.select(matches))}
    assert got["w-model"].relevance == 0.83 and got["w-query"].relevance is None
    assert json.loads(got["w-query"].evidence) == [[0, 4, a.document[0:4]]]


def test_a_long_read_does_not_hold_back_writers(tmp_path: Path) -> None:
    """The console's reads (a search keeps its transaction open while it evaluates candidates) must not take
    SQLite's write lock: a worker's write goes through while one is open."""
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    rows = classified(2)
    archive.write_articles([record(*rows[0])])
    done = threading.Event()
    with archive.engine.connect() as reader:
        assert reader.execute(sa.select(sa.func.count()).select_from(articles)).scalar() == 1  # txn open
        writer = threading.Thread(target=lambda: (archive.write_articles([record(*rows[1])]), done.set()))
        writer.start()
        assert done.wait(10), "the write waited for the reader"
        writer.join()
    archive.close()


def test_a_story_stays_while_an_article_of_it_does(archive: Archive) -> None:
    # articles go by when they were fetched, stories by publication time: a 2018 story fetched today stays
    rows = classified(4)
    old = [record(d, a, c, story="gone") | {"fetched": 100.0} for d, a, c in rows[:2]]
    backfilled = [record(d, a, c, story="kept") for d, a, c in rows[2:]]  # fetched now, published in 2018
    archive.write_articles(old + backfilled)
    cutoff = 1_600_000_000.0  # 2020: after every publication date, before every fetch of `backfilled`
    assert archive.prune(cutoff) == 2
    with archive.engine.connect() as conn:
        left = {r[0] for r in conn.execute(sa.select(stories.c.story_id))}
    assert left == {"kept"}
