"""RedisStoryStore on a real Redis: stories, exact and near copies, re-runs, expiry and races."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import redis

from feeds.dedup.fingerprint import Sketch, candidates, sketch, text_fingerprint
from feeds.dedup.story import StoryAssignment, same_story
from tests.feeds.dedup.test_dedup import _BG3, AGREED, COLLAPSED, REWRITE, _doc, _eval_set
from workers.daemon.embedded import EmbeddedRedis
from workers.stores.stories import RedisStoryStore

NOW = 1_700_000_000.0
STORY = (
    "قالت وزارة الخارجية الروسية إن الرئيس فلاديمير بوتين بحث مع نظيره التركي رجب طيب أردوغان "
    "الوضع في ليبيا وسوريا خلال اتصال هاتفي اليوم الأربعاء. وأكد الجانبان أهمية التوصل إلى وقف "
    "لإطلاق النار في ليبيا واستئناف الحوار السياسي بين الأطراف الليبية برعاية الأمم المتحدة. "
    "كما تناول الاتصال الوضع في محافظة إدلب السورية وتنفيذ الاتفاقات الروسية التركية هناك، "
    "وأشار البيان إلى أن الرئيسين اتفقا على مواصلة الاتصالات على مختلف المستويات."
)
COPY = "أنقرة (الأناضول) - " + STORY + " تابعونا على تويتر."
OTHER = (
    "أعلن الجيش الإسرائيلي اليوم أنه قصف أهدافا في قطاع غزة ردا على إطلاق صواريخ من القطاع، "
    "وقال متحدث عسكري إن الطائرات استهدفت مواقع تابعة لحركة حماس في شمال القطاع وجنوبه، "
    "بينما أفادت مصادر طبية فلسطينية بإصابة عدد من المدنيين بجروح طفيفة ونقلهم إلى المستشفى."
)


def put(store: RedisStoryStore, article_id: str, outlet: str, text: str, now: float = NOW) -> StoryAssignment:
    return store.assign(article_id, outlet, text_fingerprint(text), sketch(text), now)


def test_first_article_starts_a_story_and_unrelated_one_starts_another(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client)
    a = put(store, "https://a.example/1", "a", STORY)
    b = put(store, "https://b.example/9", "b", OTHER)
    assert (a.outcome, a.articles, a.outlets, a.duplicate_of) == ("new", 1, ("a",), None)
    assert b.outcome == "new" and b.story_id != a.story_id


def test_exact_copy_joins_the_story_and_counts_its_outlet(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client)
    a = put(store, "https://a.example/1", "a", STORY)
    b = put(store, "https://b.example/2", "b", STORY.replace("،", " ").upper())
    assert b.outcome == "duplicate" and b.story_id == a.story_id
    assert b.duplicate_of == "https://a.example/1"
    assert b.outlets == ("a", "b") and b.articles == 2
    info = store.story(a.story_id, now=NOW)
    assert info is not None
    assert (info.outlets, info.articles, info.first_article_id) == (("a", "b"), 2, "https://a.example/1")


def test_syndicated_variant_is_a_near_duplicate_of_the_same_story(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client)
    a = put(store, "https://a.example/1", "a", STORY)
    c = put(store, "https://c.example/3", "c", COPY, NOW + 3600)
    assert c.outcome == "near_duplicate" and c.story_id == a.story_id
    assert c.duplicate_of == "https://a.example/1" and c.articles == 2


def test_rerun_of_the_same_article_is_idempotent(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client)
    put(store, "https://a.example/1", "a", STORY)
    first = put(store, "https://b.example/2", "b", COPY)
    again = put(store, "https://b.example/2", "b", COPY, NOW + 60)
    assert again.story_id == first.story_id and again.outcome == first.outcome
    assert again.articles == 2 and first.articles == 2


def test_story_of_a_single_article_is_readable(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client)
    a = put(store, "https://a.example/1", "a", STORY)
    info = store.story(a.story_id, now=NOW)
    assert info is not None and info.articles == 1 and info.first_article_id == "https://a.example/1"
    assert store.story("00" * 6, now=NOW) is None


def test_copies_outside_the_window_start_a_new_story(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client, window_s=7 * 86400)
    a = put(store, "https://a.example/1", "a", STORY)
    late = put(store, "https://b.example/2", "b", STORY, NOW + 9 * 86400)
    assert late.outcome == "new" and late.story_id != a.story_id


def test_every_key_expires_within_window_plus_one_bucket(redis_client: redis.Redis) -> None:
    store = RedisStoryStore(redis_client, window_s=3600)
    put(store, "https://a.example/1", "a", STORY)
    put(store, "https://b.example/2", "b", COPY)
    keys = redis_client.keys("marsad:story:*")
    assert keys
    ttls = [redis_client.ttl(k) for k in keys]
    assert all(0 < t <= 3600 + store.bucket_s for t in ttls), ttls


def test_racing_workers_file_two_copies_into_one_story(redis_server: EmbeddedRedis) -> None:
    """Many rounds of 4 threads (own connections) filing copies of one story at the same instant."""
    clients = [redis.Redis.from_url(redis_server.url) for _ in range(4)]
    clients[0].flushdb()
    stores = [RedisStoryStore(c) for c in clients]
    texts = [STORY, COPY, STORY + " (أ ف ب)", COPY]
    try:
        for round_ in range(25):
            clients[0].flushdb()  # each round races on a fresh store
            barrier = threading.Barrier(len(stores))
            results: list[str] = [""] * len(stores)

            def work(i: int, rnd: int = round_, bar: threading.Barrier = barrier,
                     out: list[str] = results) -> None:
                text = texts[i]
                bar.wait()
                out[i] = put(stores[i], f"https://o{i}.example/{rnd}", f"o{i}", text).story_id

            threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(set(results)) == 1, f"round {round_}: {results}"
            info = stores[0].story(results[0], now=NOW)
            assert info is not None and info.articles == 4 and len(info.outlets) == 4
    finally:
        clients[0].flushdb()
        for c in clients:
            c.close()


def test_arabic_url_ids_are_stored_compactly_and_returned_verbatim(redis_client: redis.Redis) -> None:
    from feeds.dedup.urls import canonical_url
    from workers.stores.stories import pack_id, unpack_id

    url = canonical_url("https://www.alarabiya.net/ar/2018/02/18/هكذا-تحالفت-أحلام.html?id=%2F1")
    plain = canonical_url("https://www.alarabiya.net/ar/2018/02/18/هكذا-تحالفت-أحلام.html")
    for u in (url, plain, "guid:feed:123"):
        assert unpack_id(pack_id(u)) == u
    assert len(pack_id(plain)) < 0.6 * len(plain)
    store = RedisStoryStore(redis_client)
    put(store, plain, "a", STORY)
    b = put(store, "https://b.example/2", "b", STORY)
    assert b.duplicate_of == plain


def _race_in_process(url: str, i: int, barrier: Any, out: Any) -> None:
    client = redis.Redis.from_url(url)
    store = RedisStoryStore(client)
    text = [STORY, COPY][i % 2]
    barrier.wait()
    out.put(put(store, f"https://p{i}.example/1", f"p{i}", text).story_id)
    client.close()


def test_racing_processes_file_two_copies_into_one_story(redis_server: EmbeddedRedis) -> None:
    """Two worker processes (as two Celery workers would be) filing the two copies at once."""
    ctx = multiprocessing.get_context("fork")
    client = redis.Redis.from_url(redis_server.url)
    try:
        for _ in range(5):
            client.flushdb()
            barrier, out = ctx.Barrier(2), ctx.Queue()
            procs = [ctx.Process(target=_race_in_process, args=(redis_server.url, i, barrier, out))
                     for i in range(2)]
            for p in procs:
                p.start()
            ids = {out.get(timeout=20) for _ in procs}
            for p in procs:
                p.join(20)
            assert len(ids) == 1
            info = RedisStoryStore(client).story(ids.pop(), now=NOW)
            assert info is not None and info.articles == 2 and info.outlets == ("p0", "p1")
    finally:
        client.flushdb()
        client.close()


def test_independent_rewrite_from_another_outlet_joins_the_story(redis_client: redis.Redis) -> None:
    """Same facts in title and lead, own wording: one story through the lead signature (one Lua call)."""
    store = RedisStoryStore(redis_client)
    a = put(store, "https://a.example/truce", "a", AGREED)
    b = put(store, "https://b.example/truce", "b", REWRITE, NOW + 1800)
    assert b.outcome == "near_duplicate" and b.story_id == a.story_id
    assert b.outlets == ("a", "b") and b.articles == 2


def test_follow_up_with_a_rewritten_lead_starts_a_new_story(redis_client: redis.Redis) -> None:
    """Ceasefire agreed, then collapsed: a new story, so watches alert again."""
    store = RedisStoryStore(redis_client)
    a = put(store, "https://a.example/truce", "a", AGREED)
    b = put(store, "https://b.example/collapse", "b", COLLAPSED, NOW + 86400)
    assert b.outcome == "new" and b.story_id != a.story_id
    # another outlet's report of the collapse reusing all the background passes the text bar against
    # the agreement; the Lua lead veto keeps it out of that story, and it joins the collapse's story
    c = put(store, "https://c.example/collapse", "c", COLLAPSED + "\n" + _BG3, NOW + 86400)
    assert c.story_id == b.story_id != a.story_id and c.duplicate_of == "https://b.example/collapse"
    # and with only the agreement stored, the veto alone decides
    fresh = RedisStoryStore(redis_client, prefix="veto:")
    put(fresh, "https://a.example/truce", "a", AGREED)
    assert put(fresh, "https://c.example/collapse", "c", COLLAPSED + "\n" + _BG3, NOW + 86400).outcome == "new"
    # the same outlet's own rewrite is a follow-up too: the lead rule is for other outlets only
    d = put(store, "https://a.example/truce-2", "a", REWRITE, NOW + 1800)
    assert d.outcome == "new"


def test_entry_stored_without_a_lead_is_still_compared_on_its_text(redis_client: redis.Redis) -> None:
    """Entries written before the lead signature existed (32-byte signatures) keep matching copies."""
    store = RedisStoryStore(redis_client)
    old = sketch(STORY)
    a = store.assign("https://a.example/1", "a", "fp-a", Sketch(old.signature, old.bands), NOW)
    b = put(store, "https://b.example/2", "b", COPY, NOW + 60)
    assert b.outcome == "near_duplicate" and b.story_id == a.story_id


def test_store_decides_like_same_story_on_the_real_evaluation_pairs(redis_client: redis.Redis) -> None:
    """The Lua decision (text, lead, veto, outlets) matches feeds.dedup.same_story on every read pair."""
    data = _eval_set()
    docs = data["docs"]
    disagree = []
    for i, (a, b) in enumerate(data["same"] + data["different"] + data["republished"]):
        ta, tb = _doc(docs[a]), _doc(docs[b])
        sa, sb = sketch(ta), sketch(tb)
        oa, ob = docs[a]["src"], docs[b]["src"]
        expected = text_fingerprint(ta) == text_fingerprint(tb) or (
            candidates(sa, sb) and same_story(sa, sb, same_outlet=oa == ob))
        store = RedisStoryStore(redis_client, prefix=f"eval{i}:")
        store.assign(a, oa, text_fingerprint(ta), sa, NOW)
        got = store.assign(b, ob, text_fingerprint(tb), sb, NOW + 600).outcome != "new"
        if got != expected:
            disagree.append((a, b, got))
    assert not disagree
