"""The per-watch relevance model: logistic weights over named features, scoring, explanation and JSON form.

A model is *active* or not (`feeds.relevance.learn.train` decides, by cross-validation on the examples): an
inactive one keeps the query's decision (every article the gate passes is relevant) and `note` says why.
`score`/`decide`/`contributions` are plain dict lookups over the article's features; `to_json`/`from_json` are
the cache format (no pickle).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol

from feeds.errors import InvalidInput
from feeds.relevance.features import FEATURE_VERSION, Features

FORMAT = "marsad-relevance-model/1"


class FeatureSource(Protocol):
    """Anything with `.items()` of (feature name, value): a dict, or a `features.Features`."""

    def items(self) -> Iterable[tuple[str, float]]: ...


@dataclass(frozen=True)
class TrainingStats:
    """What the model was trained on and how it did under cross-validation (pooled over the folds).

    `cv_*` count the gated examples' out-of-fold decisions; `query_f1` is the F1 of keeping every gated
    example (the query alone) on the same examples; `outside_*` the examples the gate does not pass
    (never seen by the model; relevant ones there are misses only a wider query can fix).
    """

    positives: int = 0
    negatives: int = 0
    outside_relevant: int = 0
    outside_irrelevant: int = 0
    folds: int = 0
    c: float | None = None
    cv_tp: int = 0
    cv_fp: int = 0
    cv_fn: int = 0
    cv_f1: float | None = None
    query_f1: float | None = None
    features: int = 0  # features with a weight
    feature_set: str = ""  # "structural" or "all" (features.LEXICAL)
    worst_gain: float | None = None  # smallest cross-validated F1 gain over the query across `shares`
    shares: tuple[float, ...] = ()  # shares of relevant articles among those the query passes, considered


@dataclass(frozen=True)
class RelevanceModel:
    """A watch's learned relevance: logistic weights over named features, a threshold on the probability."""

    weights: Mapping[str, float] = field(default_factory=dict)
    bias: float = 0.0
    threshold: float = 0.5
    examples_hash: str = ""
    feature_version: int = FEATURE_VERSION
    stats: TrainingStats = field(default_factory=TrainingStats)
    active: bool = False  # False: keep the query's decision (see `note`)
    note: str = ""

    @property
    def lexical(self) -> bool:
        """Whether the model needs the lexical features (`features.prepare(..., lexical=True)`)."""
        return self.active and self.stats.feature_set == "all"

    def logit(self, features: FeatureSource) -> float:
        w = self.weights
        z = self.bias
        if isinstance(features, Features) and len(w) < len(features.shared):
            # A model of few weights (structural ones) looks its weights up in the article's thousands of
            # shared features rather than the other way round; names never clash between the two mappings.
            shared = features.shared
            for k, wk in w.items():
                v = shared.get(k)
                if v is not None:
                    z += wk * v
            items: Iterable[tuple[str, float]] = features.own.items()
        else:
            items = features.items()
        for k, v in items:
            x = w.get(k)
            if x is not None:
                z += x * v
        return z

    def score(self, features: FeatureSource) -> float:
        """The probability that the article is relevant; 1.0 for an inactive model (the query decides)."""
        if not self.active:
            return 1.0
        z = self.logit(features)
        # split so exp never overflows on extreme log-odds
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def decide(self, features: FeatureSource) -> bool:
        """Relevant or not, for an article the watch's query already passed."""
        return not self.active or self.score(features) >= self.threshold

    def contributions(self, features: FeatureSource, top: int = 8) -> list[tuple[str, float]]:
        """The features that moved the log-odds most, signed (positive: towards relevant), largest first."""
        if not self.active:
            return []
        w = self.weights
        out = [(k, w[k] * v) for k, v in features.items() if k in w and v]
        out.sort(key=lambda kv: (-abs(kv[1]), kv[0]))
        return out[:top]

    def to_json(self) -> str:
        d = asdict(self)
        d["weights"] = dict(sorted(self.weights.items()))
        return json.dumps({"format": FORMAT, **d}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RelevanceModel:
        """Read `to_json` output back; InvalidInput on anything else (a corrupt cache: retrain)."""
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise InvalidInput("relevance model: not valid JSON") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InvalidInput(f"relevance model: not a {FORMAT} document")
        try:
            weights = {str(k): float(v) for k, v in sorted(d["weights"].items())}
            stats = TrainingStats(**{**d["stats"], "shares": tuple(d["stats"]["shares"])})
            return cls(weights, float(d["bias"]), float(d["threshold"]), str(d["examples_hash"]),
                       int(d["feature_version"]), stats, bool(d["active"]), str(d["note"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"relevance model: bad field: {exc}") from None
