"""Breaking news on the corpus: which stories the velocity rule flags (many outlets fast) and which hours the
surge rule flags (new stories about one place or actor against its own baseline), at the shipped thresholds
and their neighbours.

Run: .venv/bin/python bench/breaking_eval.py [--since 2018-02-01] [--until 2018-10-31]
The corpus (ANT v2.1, ../shared; Chouigui, Ben Khiroun, Elayeb, AICCSA 2017; news text © the outlets) is
filed through the real story store (Lua, embedded Redis) in publication order, each article at its own time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from feeds.alerts.build import BREAKING_HOURS, BREAKING_OUTLETS  # noqa: E402
from feeds.dedup.event import event_terms  # noqa: E402
from feeds.dedup.fingerprint import sketch, text_fingerprint  # noqa: E402
from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402
from workers.alerts.spikes import SURGE_ENTITIES, SURGE_FACTOR, SURGE_MIN  # noqa: E402
from workers.daemon.embedded import EmbeddedRedis  # noqa: E402
from workers.stores.stories import RedisStoryStore  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--since", default="2018-02-01")
    ap.add_argument("--until", default="2018-10-31")
    args = ap.parse_args()
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    rows = []
    for d in read_jsonl(CORPUS):
        try:
            t = parsedate_to_datetime(str(d["time"])).timestamp()
        except (TypeError, ValueError):
            continue
        day = parsedate_to_datetime(str(d["time"])).date().isoformat()
        if args.since <= day <= args.until:
            rows.append((t, d))
    rows.sort(key=lambda x: (x[0], x[1]["docno"]))
    print(f"{len(rows):,} articles {args.since}..{args.until}, filed in publication order …", flush=True)
    members: dict[str, list[tuple[float, str, str]]] = defaultdict(list)  # story → (t, outlet, title)
    new_story: list[tuple[float, str, list[tuple[str, str]]]] = []  # (t, story, main entities)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp)).start()
        try:
            store = RedisStoryStore(redis.Redis.from_url(server.url))
            for t, d in rows:
                art = corpus_article(d)
                c = clf.classify(art)
                a = store.assign(str(d["docno"]), str(d["src"]), text_fingerprint(art.document), sketch(art.document),
                                 t, event_terms(art, c), t)
                members[a.story_id].append((t, str(d["src"]), art.title))
                if a.outcome == "new":
                    main_entities = [(k, h.id) for k, hits in (("region", c.regions), ("place", c.places),
                                                              ("actor", c.actors)) for h in hits[:SURGE_ENTITIES]]
                    new_story.append((t, a.story_id, main_entities))
        finally:
            server.stop()
    days = len({parsedate_to_datetime(str(d["time"])).date() for _, d in rows})
    print(f"{len(members):,} stories over {days} days; stories with 2+ outlets: "
          f"{sum(1 for m in members.values() if len({o for _, o, _ in m}) >= 2):,}")
    print("\nvelocity rule (a story with K outlets within H hours of its first report): stories flagged")
    for k in (3, 4, 5):
        cells = []
        for h in (1.0, 2.0, 3.0, 6.0):
            n = 0
            for m in members.values():
                first = m[0][0]
                n += len({o for t, o, _ in m if t - first <= h * 3600}) >= k
            cells.append(f"H={h:g} h: {n:4d} ({n / days:.2f}/day)")
        mark = "  ← shipped" if k == BREAKING_OUTLETS else ""
        print(f"  K={k}: " + "  ".join(cells) + mark)
    flagged = []
    for m in members.values():
        first = m[0][0]
        seen: dict[str, float] = {}
        for t, o, _ in m:
            seen.setdefault(o, t)
        within = sorted(t for t in seen.values() if t - first <= BREAKING_HOURS * 3600)
        if len(within) >= BREAKING_OUTLETS:
            flagged.append((first, within[BREAKING_OUTLETS - 1] - first, m[0][2]))
    print(f"\nshipped rule (K={BREAKING_OUTLETS}, H={BREAKING_HOURS:g} h): {len(flagged)} stories; the first 15:")
    from datetime import UTC, datetime
    for first, lag, title in sorted(flagged)[:15]:
        print(f"  {datetime.fromtimestamp(first, UTC):%Y-%m-%d %H:%M}  {BREAKING_OUTLETS}th outlet after "
              f"{lag / 60:.0f} min  {title[:80]}")
    # surge: new stories per entity per hour against the median of its trailing 168 hours
    hourly: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for t, _, ents in new_story:
        for kind, eid in ents:
            hourly[f"{kind}:{eid}"][int(t // 3600)] += 1
    print("\nsurge rule (new stories about one entity in an hour ≥ MIN and > FACTOR × its median hour of 7 days):")
    for factor, minimum in ((2.0, 3), (SURGE_FACTOR, SURGE_MIN), (3.0, 3), (3.0, 5)):
        hits = []
        for ent, hours in hourly.items():
            for hour, n in hours.items():
                if n < minimum:
                    continue
                base = statistics.median(hours.get(x, 0) for x in range(hour - 168, hour))
                if n > factor * base:
                    hits.append((hour, ent, n, base))
        mark = "  ← shipped" if (factor, minimum) == (SURGE_FACTOR, SURGE_MIN) else ""
        print(f"  factor {factor:g}, min {minimum}: {len(hits)} entity-hours{mark}")
        if (factor, minimum) == (SURGE_FACTOR, SURGE_MIN):
            for hour, ent, n, base in sorted(hits)[:12]:
                print(f"    {datetime.fromtimestamp(hour * 3600, UTC):%Y-%m-%d %H:00}  {ent:22} {n} new stories "
                      f"(usual {base:g})")


if __name__ == "__main__":
    main()
