"""Write the three whole days of the corpus to be clustered into events by hand (eval/days/*.jsonl).

Run: .venv/bin/python eval/draw_days.py --out /tmp/day-draw   (needs ../shared/corpus)

A day is every article of every outlet whose publication time (as the feed gave it, the outlet's own time
zone) falls on that date. The days are in the held-out period (on or after 2018-07-01, see draw_topics.py), so
no parameter is chosen on them: a summit day (2018-07-16, Trump–Putin in Helsinki), a day of the Idlib
offensive's build-up (2018-09-10) and a day of the Khashoggi story (2018-10-09), each with sport, economy and
culture as on any day. Reader A gets the day in publication order, reader B shuffled.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from feeds.evaluation.gold import read_jsonl  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "ant-v2.1-dev.jsonl.gz"
DAYS = ("2018-07-16", "2018-09-10", "2018-10-09")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    by_day: dict[str, list[tuple[float, dict[str, object]]]] = {d: [] for d in DAYS}
    for doc in read_jsonl(CORPUS):
        try:
            t = parsedate_to_datetime(str(doc.get("time")))
        except (TypeError, ValueError):
            continue
        if t.date().isoformat() in by_day:
            by_day[t.date().isoformat()].append((t.timestamp(), doc))
    args.out.mkdir(parents=True, exist_ok=True)
    for day, rows in by_day.items():
        rows.sort(key=lambda r: r[0])
        for reader in ("a", "b"):
            docs = [d for _, d in rows]
            if reader == "b":
                random.Random(f"{day}-b").shuffle(docs)
            with (args.out / f"day-{day}-{reader}.txt").open("w", encoding="utf-8") as fh:
                for i, d in enumerate(docs, 1):
                    text = re.sub(r"\n{3,}", "\n\n", str(d.get("text") or ""))
                    fh.write(f"=== ARTICLE {i}/{len(docs)} docno: {d['docno']} | outlet: {d['src']} | "
                             f"published: {d['time']}\nTITLE: {d.get('title') or ''}\n"
                             f"ABSTRACT: {d.get('abstract') or ''}\nTEXT:\n{text}\n\n")
        print(day, len(rows))


if __name__ == "__main__":
    main()
