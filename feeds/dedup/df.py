"""The shipped document frequencies of event terms (feeds/data/event-df.bin), the IDF's starting point before
the store's own counts of the articles it has seen are added."""

from __future__ import annotations

import struct
from functools import lru_cache
from importlib import resources

from feeds.dedup.event import TERM_BYTES

# File layout: b"MEDF", version u8, documents u32, then (term hash: TERM_BYTES big-endian, df: u16) sorted.
MAGIC = b"MEDF"
# Terms in at most this many of the table's documents (~0.8 % of them) are counted again online, per article
# seen; commoner ones keep their shipped share of documents. What changes with the news is the rare tail (a
# new name, a place suddenly in every report), and counting every word of every article cost the story
# store more than the clustering decision itself (bench/events_bench.py: ~1.3 ms of ~3 ms per call).
TRACK_MAX = 100


def online_df(h: int, base: dict[int, int], seen: dict[int, int], scale: float) -> float:
    """A term's document frequency: the table's plus the store's own count for a tracked (rare) term, the
    table's scaled to the documents seen since for a common one."""
    b = base.get(h, 0)
    return float(b + seen.get(h, 0)) if b <= TRACK_MAX else b * scale


@lru_cache(maxsize=1)
def base() -> tuple[dict[int, int], int]:
    """(term hash → documents it occurs in, documents counted) of the corpus the table was built from."""
    data = (resources.files("feeds") / "data" / "event-df.bin").read_bytes()
    if data[:4] != MAGIC or data[4] != 1:
        raise ValueError("event-df.bin: not a Marsad document-frequency table (version 1)")
    (n,) = struct.unpack(">I", data[5:9])
    rec = TERM_BYTES + 2
    out = {}
    for i in range(9, len(data), rec):
        out[int.from_bytes(data[i:i + TERM_BYTES], "big")] = int.from_bytes(data[i + TERM_BYTES:i + rec], "big")
    return out, n


def write(path: str, df: dict[int, int], n: int) -> None:
    """Write a table (eval/build_event_df.py builds it from the tuning period of the corpus)."""
    with open(path, "wb") as fh:
        fh.write(MAGIC + bytes([1]) + struct.pack(">I", n))
        for h in sorted(df):
            fh.write(h.to_bytes(TERM_BYTES, "big") + min(df[h], 65535).to_bytes(2, "big"))
