"""Build feeds/data/event-df.bin: document frequencies of event terms over the corpus's TUNING period only
(published before PERIOD_SPLIT), so no held-out article shapes the IDF the evaluation runs with.

Run: .venv/bin/python eval/build_event_df.py   (needs ../shared/corpus)
Entity terms ("region:SY", "place:idlib") are counted like words, from the classifier's output, so Syria
weighs less than Idlib. Terms seen in a single document are left out (a typo, a one-off name): they would
count as the rarest terms anyway, since an unseen term has df 0.
"""

from __future__ import annotations

import sys
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.draw_topics import PERIOD_SPLIT  # noqa: E402
from feeds.dedup import df as dfmod  # noqa: E402
from feeds.dedup.event import event_terms  # noqa: E402
from feeds.evaluation.gold import corpus_article, read_jsonl  # noqa: E402
from feeds.nlp.classify import Classifier  # noqa: E402
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"


def main() -> None:
    classifier = Classifier(load_gazetteer(default_gazetteer_paths()))
    df: Counter[int] = Counter()
    n = 0
    for doc in read_jsonl(CORPUS):
        try:
            day = parsedate_to_datetime(str(doc.get("time"))).date().isoformat()
        except (TypeError, ValueError):
            continue
        if not ("2018-01-01" <= day < PERIOD_SPLIT):
            continue
        article = corpus_article(doc)
        terms = event_terms(article, classifier.classify(article))
        df.update(set(terms.content) | set(terms.entities))
        n += 1
    kept = {h: c for h, c in df.items() if c >= 2}
    out = ROOT / "feeds" / "data" / "event-df.bin"
    dfmod.write(str(out), kept, n)
    print(f"{n} documents, {len(df)} terms, {len(kept)} kept (df >= 2), {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
