"""The pipeline's relevance stage: a watch's trained model keeps or vetoes what the watch's query matched.

    judges = {wid: make_judge(watchset, wid, model) for wid, model in models.items() if model.active}
    kept, vetoed = judge(matches, article, classification, judges)      # after WatchSet.match

Only active models are worth a judge: an inactive one keeps the query's decision anyway. With no judge, or no
match of a judged watch, nothing is computed; otherwise the article is prepared once (`features.prepare`) and
each judged watch adds its own cheap features. Kept and vetoed matches carry the model's probability in
`WatchMatch.relevance`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from feeds.models import Article, Classification, WatchMatch
from feeds.query.evaluate import Doc
from feeds.query.watchset import WatchSet
from feeds.relevance.features import WatchView, features, prepare
from feeds.relevance.model import RelevanceModel
from feeds.relevance.train import watch_view

# Feature contributions shown by `marsad why`: enough to see what pushed the score, few enough to read.
TOP_CONTRIBUTIONS = 8


@dataclass(frozen=True)
class Judge:
    """A watch's relevance model and what its features need of the watch, computed once at load."""

    watch_id: str
    model: RelevanceModel
    view: WatchView


@dataclass(frozen=True)
class Verdict:
    """The model's decision on one match, with what moved it (for `marsad why`)."""

    watch_id: str
    keep: bool
    score: float
    threshold: float
    contributions: tuple[tuple[str, float], ...]


def make_judge(watchset: WatchSet, watch_id: str, model: RelevanceModel) -> Judge:
    """The judge of one watch of `watchset` (the compiled query the model was trained behind)."""
    return Judge(watch_id, model, watch_view(watchset, watch_id))


def judge(matches: Sequence[WatchMatch], article: Article, classification: Classification,
          judges: Mapping[str, Judge], doc: Doc | None = None
          ) -> tuple[tuple[WatchMatch, ...], tuple[WatchMatch, ...]]:
    """(kept, vetoed): the matches whose watch has an active model are kept only when the model says relevant,
    both with its probability in `relevance`; the others are kept as they are. `doc`: the query's Doc of the
    article, when the caller built it for the match (building it is most of the features' cost)."""
    if not judges or not any(m.watch_id in judges for m in matches):
        return tuple(matches), ()
    # Lexical features (thousands per article) only when a model that needs them is consulted.
    lexical = any(judges[m.watch_id].model.lexical for m in matches if m.watch_id in judges)
    prepared = prepare(article, classification, lexical, doc)
    kept: list[WatchMatch] = []
    vetoed: list[WatchMatch] = []
    for m in matches:
        j = judges.get(m.watch_id)
        if j is None or not j.model.active:
            kept.append(m)
            continue
        p = j.model.score(features(prepared, m, j.view))
        (kept if p >= j.model.threshold else vetoed).append(replace(m, relevance=p))
    return tuple(kept), tuple(vetoed)


def explain(j: Judge, article: Article, classification: Classification, match: WatchMatch,
            top: int = TOP_CONTRIBUTIONS) -> Verdict:
    """The model's verdict on an article its watch's query matched, and the features that moved it most."""
    if not j.model.active:
        return Verdict(j.watch_id, True, 1.0, j.model.threshold, ())
    f = features(prepare(article, classification, j.model.lexical), match, j.view)
    p = j.model.score(f)
    return Verdict(j.watch_id, p >= j.model.threshold, p, j.model.threshold, tuple(j.model.contributions(f, top)))


class JudgedWatchSet:
    """A WatchSet whose matches pass the relevance stage: what `marsad eval` scores "with examples"."""

    def __init__(self, watchset: WatchSet, judges: Mapping[str, Judge]) -> None:
        self.watchset = watchset
        self.judges = judges

    def match(self, article: Article, classification: Classification) -> list[WatchMatch]:
        doc = Doc(article, classification)
        kept, _ = judge(self.watchset.match(article, classification, doc), article, classification, self.judges, doc)
        return list(kept)
