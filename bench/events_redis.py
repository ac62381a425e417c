"""The days of bench/events_eval.py through the real story store (Lua on an embedded Redis), in publication
order (each article at its own time) or shuffled (the clock past them all): what the workers would decide."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from feeds.dedup.event import event_terms  # noqa: E402
from feeds.dedup.fingerprint import text_fingerprint  # noqa: E402
from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from workers.daemon.embedded import EmbeddedRedis  # noqa: E402
from workers.stores.stories import RedisStoryStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
_server: dict[str, Any] = {}


def _client() -> redis.Redis:
    if "server" not in _server:
        folder = Path(tempfile.mkdtemp(prefix="marsad-events-"))
        server = _server["server"] = EmbeddedRedis(folder).start()
        # the server outlives nothing: stopped and its folder removed when the evaluation ends
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        atexit.register(server.stop)
    c = redis.Redis.from_url(_server["server"].url)
    c.flushdb()
    return c


def cluster_day_redis(c: Any, docnos: list[str], shuffled: bool = False) -> dict[str, str]:
    from bench.events_eval import arrival_order

    store = RedisStoryStore(_client())
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    wanted = set(docnos)
    arts = {str(d["docno"]): corpus_article(d) for d in read_jsonl(CORPUS) if str(d["docno"]) in wanted}
    out = {}
    latest = max(c.vec[k].t for k in docnos)
    for k in arrival_order(c, docnos, shuffled):
        art = arts[k]
        t = c.vec[k].t
        # shuffled, an article may arrive after later ones were published: the clock is past them all
        a = store.assign(k, c.src[k], text_fingerprint(art.document), c.sk[k], latest if shuffled else t,
                         event_terms(art, clf.classify(art)), t)
        out[k] = a.story_id
    return out
