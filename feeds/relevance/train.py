"""Fit a watch's relevance model from its examples through its compiled gate; decide with it at run time.

At run time only articles the watch's query (the gate) passes reach the model, so a model is trained on the
examples the gate passes, and the others are only counted (`TrainingStats.outside_*`): a relevant example
outside the gate is a miss no model can fix, which `suggest` helps widen the query for. The gate's evidence
is part of the features, so a model belongs to one query: `training_key` is the cache key (examples, query,
feature version).

    labelled = label_examples(examples, classifier)           # classify + prepare each example once
    model = fit_watch(watchset, "topic-idlib", labelled, examples_hash(examples))
    view = watch_view(watchset, "topic-idlib")                # once per watch, at load
    ...
    prepared = prepare(article, classification)               # once per article, if a modelled watch matched
    ok, p = relevant(model, prepared, match, view)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from feeds.errors import InvalidInput
from feeds.models import Article, Classification, WatchMatch
from feeds.query.watchset import WatchSet
from feeds.relevance.examples import Example, example_article, story_key
from feeds.relevance.features import FEATURE_VERSION, Features, Prepared, WatchView, features, prepare, query_parts
from feeds.relevance.learn import FEATURE_SETS, TRAINING, FeatureSet, train
from feeds.relevance.model import FORMAT, RelevanceModel


class _Classifier(Protocol):
    def classify(self, article: Article) -> Classification: ...


@dataclass(frozen=True)
class Labelled:
    """An example with its watch-independent work done: the article, its classification and features."""

    article: Article
    classification: Classification
    prepared: Prepared
    relevant: bool
    group: str  # story key: copies of one story share it and stay in one cross-validation fold


def label_examples(examples: Sequence[Example], classifier: _Classifier, lexical: bool = False) -> list[Labelled]:
    """Classify and prepare every example once; the result serves every watch trained on these examples
    (`lexical`: also build the lexical features, to train with `feature_sets` including "all")."""
    out: list[Labelled] = []
    for ex in examples:
        art = example_article(ex)
        c = classifier.classify(art)
        out.append(Labelled(art, c, prepare(art, c, lexical), ex.relevant, story_key(art.title, art.text)))
    return out


def watch_view(watchset: WatchSet, watch_id: str) -> WatchView:
    """What the features need of a watch: its query's entities and top-level parts (compute once per watch)."""
    watch = next((w for w in watchset.watches if w.id == watch_id), None)
    if watch is None:
        raise InvalidInput(f"unknown watch {watch_id!r}")
    return WatchView(tuple(watchset.entities(watch_id)), query_parts(watch.query))


def gate_rows(watchset: WatchSet, watch_id: str, labelled: Sequence[Labelled]
              ) -> tuple[list[tuple[Features, bool]], list[str], list[Labelled]]:
    """(features, relevant) and story keys of the examples the watch's query passes, and those it does not."""
    view = watch_view(watchset, watch_id)
    rows: list[tuple[Features, bool]] = []
    groups: list[str] = []
    outside: list[Labelled] = []
    for item in labelled:
        match = next((m for m in watchset.match(item.article, item.classification) if m.watch_id == watch_id),
                     None)
        if match is None:
            outside.append(item)
            continue
        rows.append((features(item.prepared, match, view), item.relevant))
        groups.append(item.group)
    return rows, groups, outside


def fit_watch(watchset: WatchSet, watch_id: str, labelled: Sequence[Labelled], examples_hash: str, *,
              feature_sets: Sequence[FeatureSet] = FEATURE_SETS, threshold: float | None = None) -> RelevanceModel:
    """The relevance model of one watch of `watchset` (its compiled query is the gate), from labelled examples
    (`label_examples`); `examples_hash` is recorded (`examples.examples_hash`). `feature_sets` and `threshold`
    as for `model.train` (the defaults are what the topic watches' evaluation chose)."""
    if "all" in feature_sets and not all(x.prepared.lexical for x in labelled):
        raise ValueError('feature set "all" needs label_examples(..., lexical=True)')
    rows, groups, outside = gate_rows(watchset, watch_id, labelled)
    rel = sum(1 for x in outside if x.relevant)
    return train(rows, examples_hash, groups, feature_sets=feature_sets, threshold=threshold,
                 outside=(rel, len(outside) - rel))


def relevant(model: RelevanceModel, prepared: Prepared, match: WatchMatch, view: WatchView) -> tuple[bool, float]:
    """The model's verdict on an article the watch's query passed, and its probability (1.0 when the model is
    inactive and the query decides, and no features are computed)."""
    if not model.active:
        return True, 1.0
    if model.lexical and not prepared.lexical:
        raise ValueError("this model needs lexical features: prepare(article, classification, lexical=True)")
    p = model.score(features(prepared, match, view))
    return p >= model.threshold, p


def training_key(examples_hash: str, query: str) -> str:
    """The cache key of a trained model: same examples, same query text, same features → same model."""
    h = hashlib.sha256(f"{FORMAT}\n{FEATURE_VERSION}\n{TRAINING}\n{examples_hash}\n".encode())
    h.update(query.encode("utf-8"))
    return h.hexdigest()
