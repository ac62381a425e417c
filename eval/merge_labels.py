"""Merge two independent readers' labels into gold, disagreements recorded as the guidelines say.

Run: .venv/bin/python eval/merge_labels.py topics A.jsonl… --with B.jsonl… --draw DRAW.jsonl --out OUT.jsonl
     .venv/bin/python eval/merge_labels.py pairs  A.jsonl… --with B.jsonl… --draw DRAW.jsonl --out OUT.jsonl

Topics (GUIDELINES.md §4): a country or actor both readers list is gold; one that only one lists, or that
either marks optional, is optional (neither rewarded nor penalised); a topic they disagree on is null.
Pairs: agreed `same_event` is gold; a disagreement is set aside (kept with `same_event: null`, counted).
Each disagreement is also written, reader by reader, to OUT with `.disagreements.jsonl` for its suffix.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

TOPICS = ("idlib", "libya_ceasefire", "syria_ceasefire", "chemical_syria", "turkey_russia_syria")


def read(paths: list[Path], key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[str(row[key])] = row
    return out


def merge_topic(a: dict[str, Any], b: dict[str, Any], disagree: list[dict[str, Any]]) -> dict[str, Any]:
    doc = a["docno"]
    ca, cb = set(a.get("countries", [])), set(b.get("countries", []))
    oa, ob = set(a.get("countries_optional", [])), set(b.get("countries_optional", []))
    countries = (ca & cb) - oa - ob
    countries_opt = (ca | cb | oa | ob) - countries
    for c in sorted((ca ^ cb) | ((ca & cb) & (oa | ob))):
        disagree.append({"docno": doc, "field": "country", "id": c, "a": c in ca, "b": c in cb})
    aa, ab = dict(a.get("actors", {})), dict(b.get("actors", {}))
    xa, xb = set(a.get("actors_optional", [])), set(b.get("actors_optional", []))
    both = (set(aa) & set(ab)) - xa - xb
    actors = {k: "name" if "name" in (aa[k], ab[k]) else "role" for k in sorted(both)}
    actors_opt = (set(aa) | set(ab) | xa | xb) - both
    for k in sorted((set(aa) ^ set(ab)) | ((set(aa) & set(ab)) & (xa | xb))):
        disagree.append({"docno": doc, "field": "actor", "id": k, "a": k in aa, "b": k in ab})
    topics: dict[str, bool | None] = {}
    for t in TOPICS:
        va, vb = a["topics"].get(t), b["topics"].get(t)
        topics[t] = va if va == vb else None
        if va != vb:
            disagree.append({"docno": doc, "field": "topic", "id": t, "a": va, "b": vb,
                             "note_a": a.get("note", ""), "note_b": b.get("note", "")})
    notes = [f"{r}: {x}" for r, x in (("A", a.get("note", "")), ("B", b.get("note", ""))) if x]
    return {"docno": doc, "countries": sorted(countries), "countries_optional": sorted(countries_opt),
            "actors": actors, "actors_optional": sorted(actors_opt), "topics": topics, "note": " | ".join(notes)}


def merge_pair(a: dict[str, Any], b: dict[str, Any], disagree: list[dict[str, Any]]) -> dict[str, Any]:
    same = a["same_event"] if a["same_event"] == b["same_event"] else None
    if same is None:
        disagree.append({"pair_id": a["pair_id"], "a": a["same_event"], "b": b["same_event"], "kind_a": a["kind"],
                         "kind_b": b["kind"], "note_a": a.get("note", ""), "note_b": b.get("note", "")})
    kind = a["kind"] if a["kind"] == b["kind"] else None
    if same is not None and kind is None:  # agreed on the event, not on copy/rewrite or the kind of negative
        kind = _kind(same, a["kind"], b["kind"])
    return {"same_event": same, "kind": kind, "kind_a": a["kind"], "kind_b": b["kind"],
            "note": " | ".join(f"{r}: {x}" for r, x in (("A", a.get("note", "")), ("B", b.get("note", ""))) if x)}


def _kind(same: bool, ka: str, kb: str) -> str:
    """When the readers agree on same/different but not on the kind: the less specific one, so the set never
    claims more than both said (a copy read as a rewrite by one is a rewrite; a follow-up read as another
    event on the topic is that)."""
    order = ["rewrite", "copy"] if same else ["same_topic_different_event", "follow_up", "roundup", "unrelated"]
    return next(k for k in order if k in (ka, kb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind", choices=["topics", "pairs"])
    ap.add_argument("a", nargs="+", type=Path)
    ap.add_argument("--with", dest="b", nargs="+", type=Path, required=True)
    ap.add_argument("--draw", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    key = "docno" if args.kind == "topics" else "pair_id"
    ra, rb = read(args.a, key), read(args.b, key)
    draw = {}
    for line in args.draw.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        draw[row["docno"] if args.kind == "topics" else f"{row['a']}|{row['b']}"] = row
    assert set(ra) == set(rb) == set(draw), (len(ra), len(rb), len(draw))
    disagree: list[dict[str, Any]] = []
    rows = []
    for k in sorted(ra):
        if args.kind == "topics":
            merged = merge_topic(ra[k], rb[k], disagree)
            merged["split"] = draw[k]["period"]
        else:
            d = draw[k]
            merged = {"a": d["a"], "b": d["b"], **merge_pair(ra[k], rb[k], disagree), "split": d["period"],
                      "drawn_by": d["method"]}
        rows.append(merged)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    with args.out.with_suffix(".disagreements.jsonl").open("w", encoding="utf-8") as fh:
        for d in disagree:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"{len(rows)} items, {len(disagree)} disagreements:",
          dict(Counter(d.get("field", "same_event") for d in disagree)))


if __name__ == "__main__":
    main()
