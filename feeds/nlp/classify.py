"""Article → Classification: gazetteer mentions with offsets, resolved in context, ranked by position."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from feeds.models import Article, Classification, EntityHit, Mention, MentionHow, MentionKind
from feeds.nlp.arabic import TYPO_MIN_LEN, Token, normalize, stem_candidates, tokenize, typo_keys
from feeds.nlp.gazetteer import HOW_PRIORITY, Entity, Gazetteer, Target

# Rank weights: a mention in the title says more about what the article is about than one in the
# lead, which says more than one further down (tail mentions are often teasers for other stories).
TITLE_WEIGHT, LEAD_WEIGHT, BODY_WEIGHT = 3.0, 2.0, 1.0
LEAD_CHARS = 400  # about the first two sentences of the text
# Names this short collide with verbs once a one-letter conjunction is stripped: فسرت "she explained",
# كسرت "she broke" are not Sirte. Such names only take و ب ل (and the article where allowed).
SHORT_NAME = 3
SHORT_OK_PREFIXES = frozenset({"", "و", "ب", "ل", "وب", "ول", "ال", "وال", "بال", "لل", "ولل"})
# Words after a role title that make it someone else: "الرئيس الفرنسي السابق" is not Macron.
NOT_CURRENT = frozenset({"السابق", "الاسبق", "الراحل", "السابقه", "الاسبقه", "المقبل", "المنتخب", "الاسبقين"})
# Words before a role title that make it someone else: "نائب الرئيس الأمريكي" is the vice-president.
NOT_HOLDER = frozenset({"نايب", "زوجه", "ابن", "ابنه", "شقيق", "شقيقه", "والد", "والده", "مرشح"})
# A typo of a name shorter than this counts only when the article names the country correctly too:
# 5-7 letter names sit one letter from too many words and foreign names (أنجيلا/أنغولا، ملاهي/ملاوي),
# while on a sample of 8,000 articles typos of longer names (سيرلانكا، كوستاركيا) were real.
TYPO_ALONE_LEN = 8
# Word types remembered for typo lookups (~10 MB at most); cleared when full.
TYPO_MEMO = 100_000
# How far after a role title a person's name may stand and replace it ("الرئيس الأمريكي باراك أوباما").
NAME_AFTER_ROLE = 3


@dataclass
class _Hit:
    """A matched span of tokens and the entities it may stand for, before context resolution."""

    i: int  # first token
    j: int  # one past the last token
    targets: list[Target]
    how: MentionHow | None = None  # overrides the target's how (typos)


class Classifier:
    """Finds regions, places and actors with a token-keyed index: cost grows with text, not gazetteer."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.g = gazetteer
        # Typo lookups per word type: news vocabulary repeats, so a bounded memo makes them ~free.
        self._typos: dict[str, str | None] = {}

    def classify(self, article: Article) -> Classification:
        doc = article.document
        toks = tokenize(doc)
        day = article.published.date() if article.published else None
        hits = self._match(toks)
        mentions = self._resolve(hits, toks, doc, day)
        mentions += self._counterparts(toks, doc, mentions, day)
        mentions.sort(key=lambda m: (m.start, m.kind != "actor"))
        return self._rank(article, mentions)

    # -- matching -------------------------------------------------------------------------------
    def _match(self, toks: list[Token]) -> list[_Hit]:
        index, out, i, n = self.g.index, [], 0, len(toks)
        while i < n:
            best: _Hit | None = None
            norm = toks[i].norm
            after = toks[i + 1].norm if i + 1 < n else ""
            for cand in stem_candidates(norm):
                entry = index.get(cand)
                if entry is None:
                    continue
                pats = entry.multi.get(after, entry.single)
                if not pats:
                    continue
                # a stem with its article restored after لل (للعراق → العراق) was prefixed by ل alone
                prefix = norm[: len(norm) - len(cand)] if norm.endswith(cand) else "ل"
                for p in pats:
                    k = len(p.rest)
                    if best is not None and k + 1 <= best.j - best.i:
                        break  # patterns are sorted longest first
                    if i + k >= n:
                        continue
                    # the first word after is the key of `multi`; only longer names need checking
                    if k > 1 and any(toks[i + 1 + x].norm != p.rest[x] for x in range(1, k)):
                        continue
                    ok = [t for t in p.targets if _prefix_ok(prefix, cand, t, k)]
                    if ok:
                        best = _Hit(i, i + 1 + k, ok)
                        break
            if best is None:
                typo = self._typo(norm)
                if typo is not None:
                    out.append(typo_hit(i, typo))
                i += 1
                continue
            out.append(best)
            # A role title does not swallow its nisba: "الرئيس الروسي" also references Russia.
            i = i + 1 if all(t.role is not None for t in best.targets) else best.j
        return out

    def _typo(self, norm: str) -> str | None:
        if len(norm) < TYPO_MIN_LEN:
            return None
        try:
            return self._typos[norm]
        except KeyError:
            pass
        if len(self._typos) > TYPO_MEMO:
            self._typos.clear()
        hit = self._typos[norm] = self._typo_uncached(norm)
        return hit

    def _typo_uncached(self, norm: str) -> str | None:
        for cand in stem_candidates(norm):
            prefix = norm[: len(norm) - len(cand)]
            # the article is no part of a name's length: الصين is as short as صين, and الذين is near it
            if "ال" in prefix or typo_len(cand) < TYPO_MIN_LEN or cand in self.g.not_typos:
                continue
            hit = self.g.typos.get(cand)  # transposition
            if hit is None:
                for key in typo_keys(cand):
                    if "?" in key and (hit := self.g.typos.get(key)) is not None:
                        break
            if hit is not None:
                return hit
        return None

    # -- context ----------------------------------------------------------------------------------
    def _resolve(self, hits: list[_Hit], toks: list[Token], doc: str, day: date | None) -> list[Mention]:
        # Evidence per country from unambiguous, strong names, to decide ambiguous and weak ones.
        evidence: Counter[str] = Counter()
        for h in hits:
            countries = {self._country(t) for t in h.targets if t.kind in ("region", "place")}
            if len(countries) == 1 and not any(t.weak for t in h.targets) and h.how != "typo":
                c = countries.pop()
                if c:
                    evidence[c] += 1
        out: list[Mention] = []
        for h in hits:
            start, end = toks[h.i].start, toks[h.j - 1].end
            surface = doc[start:end]
            geo = [t for t in h.targets if t.kind in ("region", "place")]
            chosen = self._choose(geo, evidence)
            if chosen is not None and h.how == "typo" and not evidence[chosen.id] and \
                    self._name_len(chosen.id) < TYPO_ALONE_LEN:
                chosen = None
            if chosen is not None:
                out += self._geo_mentions(chosen, start, end, surface, h.how)
            for t in h.targets:
                if t.kind == "actor" and self._actor_ok(t, h, hits, toks, doc, day, evidence):
                    out.append(Mention("actor", t.id, start, end, surface, h.how or t.how))
        return out

    def _name_len(self, region: str) -> int:
        ent = self.g.get("region", region)
        return typo_len(normalize(ent.name_ar).replace(" ", "")) if ent else 0

    def _country(self, t: Target) -> str | None:
        if t.kind == "region":
            return t.id
        ent = self.g.get("place", t.id)
        return ent.country if ent else None

    def _choose(self, geo: list[Target], evidence: Counter[str]) -> Target | None:
        if not geo:
            return None
        if len({self._country(t) for t in geo}) > 1:
            # One name, several countries: trust the article's other clues, then the stronger kind
            # of name (Oman's name over Amman's; Libya's capital over Lebanon's city).
            geo = sorted(geo, key=lambda t: (-evidence[self._country(t) or ""], HOW_PRIORITY[t.how]))
            a, b = geo[0], geo[1]
            if evidence[self._country(a) or ""] == evidence[self._country(b) or ""] and \
                    HOW_PRIORITY[a.how] == HOW_PRIORITY[b.how]:
                return None  # كوريا alone: no way to tell North from South
            best = a
        else:
            best = min(geo, key=lambda t: HOW_PRIORITY[t.how])
        if best.weak and not evidence[self._country(best) or ""]:
            return None
        return best

    def _geo_mentions(self, t: Target, start: int, end: int, surface: str, how: MentionHow | None
                      ) -> list[Mention]:
        if t.kind == "region":
            return [Mention("region", t.id, start, end, surface, how or t.how)]
        out = [Mention("place", t.id, start, end, surface, how or "name")]
        country = self._country(t)
        if country:
            out.append(Mention("region", country, start, end, surface, "place"))
        return out

    def _actor_ok(self, t: Target, h: _Hit, hits: list[_Hit], toks: list[Token], doc: str,
                  day: date | None, evidence: Counter[str]) -> bool:
        if t.role is None:
            if not t.weak:
                return True
            # الأسد "the lion", روحاني "spiritual", سليماني the footballer: only with their country around
            ent = self.g.get("actor", t.id)
            return bool(ent and ent.country and evidence[ent.country])
        if not t.role.valid_on(day):
            return False
        if h.j < len(toks) and toks[h.j].norm in NOT_CURRENT:
            return False
        if h.i > 0 and any(c in NOT_HOLDER for c in stem_candidates(toks[h.i - 1].norm)):
            return False
        role = t.role
        # "رئيس حكومة الوفاق الوطني الفلسطينية": a title qualified by another country's nisba
        if h.j < len(toks) and self._nisba_of(toks[h.j].norm) not in (None, role.country):
            return False
        for other in hits:
            if not h.j <= other.i <= h.j + NAME_AFTER_ROLE - 1:
                continue
            adjacent = other.i == h.j and not doc[toks[h.j - 1].end:toks[other.i].start].strip()
            for x in other.targets:
                if x.kind != "actor" or x.role is not None or x.id == t.id:
                    continue
                # a person named right after the title is who it denotes; further on, only another
                # holder of the same office replaces it ("الرئيس الأمريكي السابق، باراك أوباما")
                if adjacent or any(r.office == role.office and r.country == role.country
                                   for r in self.g.roles_by_actor.get(x.id, [])):
                    return False
        return True

    def _nisba_of(self, norm: str) -> str | None:
        for cand in stem_candidates(norm):
            entry = self.g.index.get(cand)
            if entry is not None and entry.single:
                for t in entry.single[0].targets:
                    if t.kind == "region" and t.how == "nisba":
                        return t.id
        return None

    def _counterparts(self, toks: list[Token], doc: str, mentions: list[Mention], day: date | None
                      ) -> list[Mention]:
        """"نظيره التركي" after a Russian president: the Turkish holder of the same office."""
        out: list[Mention] = []
        nisbas = {m.start: m for m in mentions if m.kind == "region" and m.how == "nisba"}
        for i, tok in enumerate(toks[:-1]):
            if "نظير" not in tok.norm or not any(c in self.g.counterpart_words for c in stem_candidates(tok.norm)):
                continue
            nis = nisbas.get(toks[i + 1].start)
            if nis is None:
                continue
            # the office of the nearest person before it who holds one ("الكرملين" holds none)
            offices = (r.office for m in reversed(mentions) if m.kind == "actor" and m.end <= tok.start
                       for r in self.g.roles_by_actor.get(m.id, []) if r.valid_on(day) and r.office != "presidency")
            office = next(offices, None)
            holders = [r for r in self.g.offices.get((office or "", nis.id), []) if r.valid_on(day)]
            if len(holders) == 1:
                out.append(Mention("actor", holders[0].actor, tok.start, nis.end, doc[tok.start:nis.end],
                                   "role"))
        return out

    # -- ranking ----------------------------------------------------------------------------------
    def _rank(self, article: Article, mentions: list[Mention]) -> Classification:
        title_end = article.title_end
        lead_end = title_end + 2 + LEAD_CHARS

        def weight(m: Mention) -> float:
            if article.title and m.start < title_end:
                return TITLE_WEIGHT
            return LEAD_WEIGHT if m.start < lead_end else BODY_WEIGHT

        def hits(kind: MentionKind) -> tuple[EntityHit, ...]:
            count: Counter[str] = Counter()
            score: dict[str, float] = {}
            for m in mentions:
                if m.kind == kind:
                    count[m.id] += 1
                    score[m.id] = score.get(m.id, 0.0) + weight(m)
            out = []
            for ident in count:
                ent = self.g.get(kind, ident) or Entity(kind, ident, ident, "")
                out.append(EntityHit(ident, ent.name, count[ident], score[ident], ent.name_ar,
                                     ent.country if kind != "region" else None))
            return tuple(sorted(out, key=lambda h: (-h.score, h.id)))

        return Classification(hits("region"), hits("place"), hits("actor"), tuple(mentions))


def typo_len(word: str) -> int:
    """Letters of a name that a typo may hit: without a leading article."""
    return len(word) - 2 if word.startswith("ال") else len(word)


def typo_hit(i: int, region: str) -> _Hit:
    return _Hit(i, i + 1, [Target("region", region, "name", article=False)], how="typo")


def _prefix_ok(prefix: str, cand: str, t: Target, rest: int) -> bool:
    if "ال" in prefix or prefix.endswith("لل"):
        if not t.article or cand.startswith("ال"):
            return False  # الروحاني is not روحاني; الالعراق is not a word
    if prefix.endswith("س"):
        return False  # the future prefix سـ goes on verbs only
    if rest == 0 and len(cand) <= SHORT_NAME and prefix not in SHORT_OK_PREFIXES:
        return False
    return True
