"""Text signatures of an article: the exact-text fingerprint and the MinHash sketch (with its lead part)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from feeds.dedup.lead import lead_sketch
from feeds.nlp.arabic import normalize_words


def text_fingerprint(text: str) -> str:
    """Exact-duplicate key: hash of the normalised words (case, diacritics, spacing, punctuation gone)."""
    return hashlib.blake2b(normalize_words(text).encode(), digest_size=16).hexdigest()


# Word 3-shingles: measured on the corpus (docs/dedup.md) unrelated same-topic stories share many
# 1- and 2-word phrases ("الرئيس السوري", "وقال المتحدث"); 3 words is where copies and rewrites separate.
SHINGLE = 3
# One-permutation MinHash with 32 bins, one byte kept per bin: 32 bytes per article. Measured on the
# evaluation set (bench/dedup_eval.py) 32, 48 and 64 bins gave the same precision and recall; the
# estimate's standard error at the threshold is √(0.35·0.65/32) ≈ 0.08, and the pairs the evaluation
# must separate sit far from it (copies ≥ 0.7, different stories ≤ 0.2 with few exceptions).
BINS = 32
# The first BANDS bins (full 64-bit minimum each, i.e. LSH bands of one row) are the index keys used
# to find candidates: P(candidate | J) = 1 − (1 − J)^6, 0.925 at J = 0.35 and 0.984 at J = 0.5, and the
# two lead bands (feeds/dedup_lead.py) find most of the rest, since copies share their leads. Measured
# (bench/dedup_eval.py): no true pair of the evaluation set was lost to the LSH step with 6, 7 or 8
# text bands plus 2 lead bands (2 were lost with 8 text bands alone); each band costs ~14 bytes of
# Redis per article, and 6 + 2 keeps the store under 300 bytes per article with the lead bitmap.
BANDS = 6
_MASK64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15  # golden-ratio constant: spreads small integers over 64 bits


def _h64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Sketch:
    """A compact near-duplicate summary: MinHash bins, the lead bitmap and LSH band keys (7 bytes each)."""

    signature: bytes = b""  # one byte per MinHash bin of the text's 3-shingles
    bands: tuple[bytes, ...] = ()  # text band keys
    lead: bytes = b""  # bitmap of the title/lead content words (feeds.dedup_lead)
    lead_bands: tuple[bytes, ...] = ()  # lead band keys

    @property
    def empty(self) -> bool:
        return not self.signature


def shingles(text: str) -> set[str]:
    """The normalised word 3-shingles of a text (a single shingle of all words when it is shorter)."""
    words = normalize_words(text).split()
    if len(words) < SHINGLE:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def sketch(text: str) -> Sketch:
    """One-permutation MinHash of the text's word shingles, densified so short texts fill every bin."""
    grams = shingles(text)
    if not grams:
        return Sketch()
    mins: list[int | None] = [None] * BINS
    for g in grams:
        h = _h64(g.encode())
        b = h % BINS
        v = mins[b]
        if v is None or h < v:
            mins[b] = h
    # Rotation densification (Shrivastava & Li 2014): an empty bin borrows the next non-empty bin's
    # minimum, rehashed with the distance, so two texts with the same shingles fill it alike.
    full: list[int] = []
    for i in range(BINS):
        for d in range(BINS):
            v = mins[(i + d) % BINS]
            if v is not None:
                full.append(v if d == 0 else (v * _MIX + d) & _MASK64)
                break
    signature = bytes((v >> 40) & 0xFF for v in full)
    bands = tuple((((full[i] ^ (i * _MIX)) & _MASK64) >> 8).to_bytes(7, "big") for i in range(BANDS))
    lead, lead_bands = lead_sketch(text)
    return Sketch(signature, bands, lead, lead_bands)


def similarity(a: Sketch, b: Sketch) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (fraction of equal bins)."""
    if a.empty or b.empty or len(a.signature) != len(b.signature):
        return 0.0
    return sum(x == y for x, y in zip(a.signature, b.signature, strict=True)) / len(a.signature)


def candidates(a: Sketch, b: Sketch) -> bool:
    """Whether the store's LSH index would put b before a: they share a text band or a lead band."""
    return bool(set(a.bands) & set(b.bands)) or bool(set(a.lead_bands) & set(b.lead_bands))
