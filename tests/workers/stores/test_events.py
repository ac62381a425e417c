"""The event stage in Redis: another outlet's report in its own words joins the story (outcome joined_event),
a look-alike event does not, a re-run is answered from what was stored, and the Lua decides as the pure rule
(feeds/dedup/event.py) on every fixture article."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
import redis

from feeds.dedup import df as dfmod
from feeds.dedup import event as ev
from feeds.dedup.fingerprint import sketch, text_fingerprint
from feeds.dedup.story import same_story
from feeds.evaluation.gold import corpus_article
from feeds.nlp.classify import Classifier
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from tests.conftest import event_fixtures
from workers.stores import events
from workers.stores.stories import RedisStoryStore

DOCS, PAIRS = event_fixtures()
CLF = Classifier(load_gazetteer(default_gazetteer_paths()))


def file(store: RedisStoryStore, k: str, now: float | None = None,  # type: ignore[no-untyped-def]
         published: float | None = None):
    d = DOCS[k]
    art = corpus_article(d)
    t = parsedate_to_datetime(d["time"]).timestamp() if published is None else published
    return store.assign(k, d["src"], text_fingerprint(art.document), sketch(art.document), now or t,
                        ev.event_terms(art, CLF.classify(art)), t)


@pytest.mark.parametrize(("a", "b"), PAIRS["same_event"])
def test_a_report_published_earlier_but_arriving_later_joins_across_a_bucket_boundary(
        redis_client: redis.Redis, a: str, b: str) -> None:
    """Outlets are polled at their own pace: the report published later is often filed first. Published a
    minute either side of a boundary of the index's buckets, the earlier one must still find the story."""
    store = RedisStoryStore(redis_client)
    boundary = (parsedate_to_datetime(DOCS[a]["time"]).timestamp() // events.BUCKET_S + 1) * events.BUCKET_S
    now = boundary + 600
    one = file(store, a, now=now, published=boundary + 60)
    two = file(store, b, now=now + 1, published=boundary - 60)
    assert one.outcome == "new" and two.outcome in ("joined_event", "near_duplicate"), two
    assert two.story_id == one.story_id


@pytest.mark.parametrize(("a", "b"), PAIRS["same_event"])
def test_a_rewrite_by_another_outlet_joins_the_event(redis_client: redis.Redis, a: str, b: str) -> None:
    store = RedisStoryStore(redis_client)
    first, second = sorted((a, b), key=lambda k: parsedate_to_datetime(DOCS[k]["time"]))
    one = file(store, first)
    two = file(store, second)
    assert one.outcome == "new" and two.outcome in ("joined_event", "near_duplicate")
    assert two.story_id == one.story_id and len(two.outlets) == 2
    assert file(store, second) == two  # a re-run: the same answer, counted once
    # documents counted for the IDF: each report of its own, not a copy (nor a re-run)
    counted = sum(int(redis_client.get(f"marsad:story:ev:n:{e}") or 0)
                  for e in {events.df_epoch(parsedate_to_datetime(DOCS[k]["time"]).timestamp()) for k in (a, b)})
    assert counted == (2 if two.outcome == "joined_event" else 1)


@pytest.mark.parametrize(("a", "b"), PAIRS["different_event"])
def test_a_look_alike_event_starts_its_own_story(redis_client: redis.Redis, a: str, b: str) -> None:
    store = RedisStoryStore(redis_client)
    one, two = file(store, a), file(store, b)
    assert two.outcome == "new" and two.story_id != one.story_id


@pytest.mark.parametrize("arrival", ["publication order", "reverse order"])
def test_the_lua_decides_as_the_pure_rule_on_every_fixture_article(redis_client: redis.Redis, arrival: str) -> None:
    store = RedisStoryStore(redis_client)
    order = sorted(DOCS, key=lambda k: (parsedate_to_datetime(DOCS[k]["time"]).timestamp(), k))
    # in reverse, every article arrives after all of them were published (as a slow feed's backlog does)
    latest = parsedate_to_datetime(DOCS[order[-1]]["time"]).timestamp() if arrival == "reverse order" else None
    if latest is not None:
        order.reverse()
    got = {k: file(store, k, now=latest).story_id for k in order}
    # the twin: near-duplicate rule against every earlier article, then the event rule over the open stories
    base, n = dfmod.base()
    seen = 0
    df: dict[int, int] = {}
    story_of: dict[str, str] = {}
    stories: dict[str, ev.Story] = {}
    sketches = {}
    for k in order:
        art = corpus_article(DOCS[k])
        terms = ev.event_terms(art, CLF.classify(art))
        t = parsedate_to_datetime(DOCS[k]["time"]).timestamp()
        v = ev.vectorise(terms, lambda h: base.get(h, 0) + df.get(h, 0), n + seen, t)
        sketches[k] = sketch(art.document)
        near = [o for o in story_of if same_story(sketches[o], sketches[k], DOCS[o]["src"] == DOCS[k]["src"])]
        sid = story_of[near[0]] if near else (ev.best_story(v, stories)[0] or k)
        story_of[k] = sid
        stories.setdefault(sid, ev.Story()).add(v)
        for h in set(terms.content) | set(terms.entities):
            df[h] = df.get(h, 0) + 1
        seen += 1
    groups_redis = {frozenset(k for k in got if got[k] == s) for s in got.values()}
    groups_twin = {frozenset(k for k in story_of if story_of[k] == s) for s in story_of.values()}
    assert groups_redis == groups_twin


def test_an_event_record_is_small(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client)
    k = next(iter(DOCS))
    a = file(store, k)
    raw = redis_client.get(f"marsad:story:ev:{bytes.fromhex(a.story_id).decode('latin-1')}".encode("latin-1"))
    assert raw is not None and len(raw) <= 13 + 4 * (ev.CONTENT_TERMS + ev.TITLE_TERMS + ev.ENTITY_TERMS)


def test_a_late_copy_of_a_closed_event_does_not_reopen_it(redis_client: redis.Redis) -> None:
    """Days after an event closed (its record expired), an exact copy still joins the story through the copies
    index, but must not make the story look new: its first report stays unknown, so it cannot turn breaking."""
    store = RedisStoryStore(redis_client)
    k = sorted(DOCS)[0]
    d = DOCS[k]
    art = corpus_article(d)
    t = parsedate_to_datetime(d["time"]).timestamp()
    one = store.assign(k, d["src"], text_fingerprint(art.document), sketch(art.document), t,
                       ev.event_terms(art, CLF.classify(art)), t)
    assert one.first_seen == int(t)
    record = b"marsad:story:ev:" + bytes.fromhex(one.story_id)  # the Lua's key: the raw 6-byte story id
    assert redis_client.delete(record) == 1  # the event record expired (54 h); the story's copies index lives on
    late = t + 3 * 86400
    copy = store.assign("late-copy", "other-outlet", text_fingerprint(art.document), sketch(art.document), late,
                        ev.event_terms(art, CLF.classify(art)), late)
    assert copy.outcome == "duplicate" and copy.story_id == one.story_id
    assert not copy.first_seen  # no record was made from the copy alone
    assert not redis_client.exists(record)


def test_document_counts_live_in_epochs_that_expire_and_stop_counting(redis_client: redis.Redis) -> None:
    """The store's own document counts are bounded: they go to the article's epoch (with a TTL), an article
    DF_EPOCHS epochs later reads none of them, and nothing is written to an unbounded all-time count."""
    store = RedisStoryStore(redis_client)
    k = sorted(DOCS)[0]
    t = parsedate_to_datetime(DOCS[k]["time"]).timestamp()
    file(store, k)
    epoch = events.df_epoch(t)
    df_key, n_key = f"marsad:story:ev:df:{epoch}", f"marsad:story:ev:n:{epoch}"
    assert int(redis_client.get(n_key) or 0) == 1
    assert redis_client.hlen(df_key) > 0
    assert 0 < redis_client.ttl(df_key) <= events.DF_TTL_S and 0 < redis_client.ttl(n_key) <= events.DF_TTL_S
    assert not redis_client.exists("marsad:story:ev:df") and not redis_client.exists("marsad:story:ev:n")
    counted = sorted(int.from_bytes(f, "big") for f in redis_client.hkeys(df_key))
    idx = events.EventIndex(redis_client, "marsad:story:", 1000)
    # within the epoch and the next, the article's own counts are read: one document, one for each term …
    for at in (t + 3600, t + events.DF_EPOCH_S):
        assert idx.online_counts(counted, at) == ({h: 1 for h in counted}, 1)
    # … and once DF_EPOCHS epochs have passed, none: the IDF is the shipped table's again
    assert idx.online_counts(counted, t + events.DF_EPOCHS * events.DF_EPOCH_S) == ({}, 0)


def test_the_all_time_counts_of_an_older_store_are_freed(redis_client: redis.Redis) -> None:
    """A store upgraded from one-count-for-all-time frees those keys on its first article, and counts on."""
    redis_client.hset("marsad:story:ev:df", b"abc", 7)
    redis_client.set("marsad:story:ev:n", 17_000)
    redis_client.set("marsad:story:other", 1)
    store = RedisStoryStore(redis_client)
    k = sorted(DOCS)[0]
    file(store, k)
    assert not redis_client.exists("marsad:story:ev:df") and not redis_client.exists("marsad:story:ev:n")
    assert redis_client.get("marsad:story:other") == b"1"
    epoch = events.df_epoch(parsedate_to_datetime(DOCS[k]["time"]).timestamp())
    assert int(redis_client.get(f"marsad:story:ev:n:{epoch}") or 0) == 1
