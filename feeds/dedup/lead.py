"""Title/lead signature: the content words of a headline and first lines, for rewrites of one event."""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache

from feeds.nlp.arabic import normalize, stem_candidates, tokenize

# Two outlets rewriting one agency report keep its facts in the headline and first sentence (who, what,
# where, numbers) while the rest is reworded: measured on the evaluation set (docs/dedup.md) such
# pairs share few word 3-shingles (median J 0.15) but many content words of their leads. The lead is
# the title plus the first LEAD_WORDS content words of the body: enough to hold the first sentence of
# a wire report (~25-35 content words), few enough that the background paragraphs a follow-up reuses
# are not in it. 40 was chosen on the tuning half (30 / 40 / 60 compared, docs/dedup.md).
LEAD_WORDS = 40
# A headline longer than this is not a headline (a document without a title starts with its text).
TITLE_WORDS = 25
# The lead words are kept as a bitmap of LEAD_BITS bits (one bit per word hash): a lead of ~50 words
# fills ~1/3 of 128 bits, and linear counting (below) corrects the chance overlaps, so the similarity of
# two leads is computed from all their words rather than sampled as MinHash would (for sets this small
# 16 bytes of bitmap estimate Jaccard better than 16 one-byte MinHash bins: measured in
# bench/dedup_eval.py). 16 bytes keeps the store under 300 bytes per article.
LEAD_BITS = 128
# LSH band keys of the lead (one-row bands, min-hash of the lead words under LEAD_BANDS seeds):
# rewrites that share too few 3-shingles to meet on a text band meet here with probability
# 1 − (1 − J_lead)^LEAD_BANDS (0.71 at J_lead 0.45 and two bands; the text bands add to that).
LEAD_BANDS = 2

# Function words, weekdays and reporting verbs: present in every lead, they say nothing about which
# event it reports. (Normalised like the text: hamza/alef/ya/ta-marbuta folded.)
_STOP_RAW = """
في من على الى إلى عن مع ان أن إن او أو ما لا لم لن قد كان كانت يكون تكون هذا هذه ذلك تلك هؤلاء التي الذي
الذين اللذين اللتين بعد قبل بين حول خلال عند منذ حتى ثم كما كل غير بعض اي أي هو هي هم هما نحن وقد ولم
الا إلا اليوم امس أمس غدا السبت الاحد الأحد الاثنين الإثنين الثلاثاء الاربعاء الأربعاء الخميس الجمعة
قال قالت يقول تقول اعلن أعلن اعلنت أعلنت اكد أكد اكدت أكدت اضاف أضاف اضافت أضافت افاد أفاد افادت أفادت
ذكر ذكرت نقل نقلت اوضح أوضح اوضحت أوضحت وفق وفقا بحسب حسب ضمن لدى اذا إذا عليه عليها فيه فيها منه منها
انه أنه انها أنها لها به بها الان الآن يوم ايضا أيضا مساء صباح ليل فجر وذلك حيث التى عقب اثر إثر جراء
تم يتم ومن وفي وعلى وقال وقالت واضاف وأضاف واكد وأكد واوضح وأوضح فيما بينما كذلك لكن ولكن اما أما
"""
STOPWORDS = frozenset(normalize(w) for w in _STOP_RAW.split())
# A dateline before the text ("دبي، الإمارات العربية المتحدة (CNN)-- ", "القاهرة (رويترز) - ",
# "بيروت - أ ف ب: "): the place and agency of the desk, not the event; one outlet puts it on every story.
_DATELINE = re.compile(
    r"^\s*[^\n.]{0,60}?(?:\([^()\n]{1,30}\)\s*(?:--|—|–|-|:)|\s(?:--|—|–|-)\s*(?:[^\s\n]{1,6}\s){0,3}"
    r"[^\s\n]{0,6}\s*:)\s*")


@lru_cache(maxsize=200_000)  # news vocabulary repeats: most words are stemmed once per process
def _stem(word: str) -> str:
    """Light stemming: the shortest proclitic-free form, then one common suffix (plural, nisba, feminine)."""
    # "س" alone (the future prefix of verbs) is not stripped: nouns of the news start with it (سوريا, سفير)
    stem = min((c for c in stem_candidates(word) if c != word[1:] or word[0] != "س"), key=len)
    for suffix in ("يين", "يه", "ات", "ين", "ون", "ه", "ي"):
        # keep three letters: shorter roots stripped of a suffix collide too often
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 3:
            return stem[: -len(suffix)]
    return stem


def content_words(text: str) -> list[str]:
    """The stemmed content words of a text, in order (function words, weekdays, reporting verbs dropped)."""
    return [_stem(t.norm) for t in tokenize(text) if len(t.norm) >= 2 and t.norm not in STOPWORDS]


def _lead_content(body: str) -> list[str]:
    """The first LEAD_WORDS content words of the body, tokenising only as much of it as that needs."""
    # A lead of 40 content words is ~300–600 characters; tokenising and stemming the whole text cost
    # more than all the rest of the sketch. A chunk is enough once it holds MORE than LEAD_WORDS words
    # (its last word may be cut in two, and is then beyond the lead).
    size = 512
    while True:
        words = content_words(body[:size])
        if len(words) > LEAD_WORDS or size >= len(body):
            return words[:LEAD_WORDS]
        size *= 2


def lead_words(document: str) -> set[str]:
    """The stemmed content words of the title (text before the first blank line) and the lead."""
    title, sep, body = document.partition("\n\n")
    if not sep or len(title.split()) > TITLE_WORDS:
        title, body = "", document
    body = _DATELINE.sub("", body.lstrip(), count=1)
    return set(content_words(title)) | set(_lead_content(body))


def _h64(word: str, seed: int) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8, salt=seed.to_bytes(8, "little"))
                          .digest(), "little")


def lead_sketch(document: str) -> tuple[bytes, tuple[bytes, ...]]:
    """The lead's bitmap (LEAD_BITS/8 bytes) and its LEAD_BANDS band keys (7 bytes each); empty if no words."""
    words = lead_words(document)
    if not words:
        return b"", ()
    bits = 0
    for w in words:
        bits |= 1 << (_h64(w, 0) % LEAD_BITS)
    # Band keys use their own seeds (≥ 1), so they are independent of the bitmap and of the text bands
    # they share the index with (a chance meeting is verified on the signatures like any candidate).
    bands = tuple(min(_h64(w, seed + 1) for w in words).to_bytes(8, "big")[:7] for seed in range(LEAD_BANDS))
    return bits.to_bytes(LEAD_BITS // 8, "big"), bands


def _linear_count(ones: int, m: int) -> float:
    """Distinct items hashed into m bits, from the bits set (linear counting, Whang et al. 1990)."""
    return -m * math.log(1 - min(ones, m - 1) / m)


def lead_similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard of two leads' word sets from their bitmaps (chance bit overlaps removed)."""
    if not a or not b or len(a) != len(b):
        return 0.0
    m = 8 * len(a)
    ia, ib = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    na, nb = _linear_count(ia.bit_count(), m), _linear_count(ib.bit_count(), m)
    nu = _linear_count((ia | ib).bit_count(), m)
    return max(0.0, min(1.0, (na + nb - nu) / nu)) if nu > 0 else 0.0
