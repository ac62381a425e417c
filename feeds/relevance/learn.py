"""Choosing and fitting a watch's relevance model by cross-validation on its examples alone.

`train(rows, examples_hash)` fits scikit-learn's LogisticRegression (imported inside, so scoring and loading a
cached model never import scikit-learn) and chooses the feature set, the regularisation C and the decision
threshold by grouped, stratified cross-validation. A model that cannot be trained (too few relevant or
irrelevant examples among those the query finds) or that does not beat the query on the examples'
cross-validation is returned inactive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from feeds.relevance.features import FEATURE_VERSION, is_lexical
from feeds.relevance.model import FeatureSource, RelevanceModel, TrainingStats

# Regularisation strengths tried by cross-validation (inverse L2 penalty). The sets are small (tens to a few
# hundred articles against thousands of word features), so strong regularisation is expected to win; the
# upper end lets a set with a clear signal fit it.
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
FeatureSet = Literal["structural", "all"]
# Feature sets tried by cross-validation, smallest first (preferred on a tie). Default: structural only. A few
# dozen structural features generalise from a few dozen examples where thousands of words memorise them: on the
# topic watches' tune examples (bench/relevance_eval.py, nested cross-validation) adding "all" to the choice
# lost F1 (turkey_russia_syria 0.82 → 0.74) because the inner choice of set is itself noisy.
FEATURE_SETS: tuple[FeatureSet, ...] = ("structural",)
# Below this many relevant or irrelevant examples among those the gate passes, neither a fit nor its
# cross-validation means anything (with 2 per class, each fold tests one article of a class).
MIN_PER_CLASS = 3
# At most this many folds; fewer when a class has fewer (groups of) examples.
MAX_FOLDS = 5
# Weights smaller than this are dropped from the model: on features of at most ~5 (log counts) they move the
# log-odds by < 0.005, and without them the cached JSON is a few KB instead of a few hundred.
MIN_WEIGHT = 1e-3
# Features on fewer training examples than this are left out: a word of one article can only memorise it.
MIN_DF = 2
# The model replaces the query's decision only when, under cross-validation, it makes at least this many
# fewer mistakes than the query on the examples (one fewer is within the noise of a few dozen examples).
MIN_GAIN = 1
# Shares of relevant articles among those the query passes at which the model must not lose to the query (the
# examples' own share is added at training). Live traffic is usually more precise than the examples: people
# label the query's mistakes more than its successes, and a topic's share swings with the news (on the topic
# watches, a model tuned at its examples' share lost recall on a later period where the query was more precise).
# Up to nine in ten: above that the query alone is precise enough that a veto can hardly help. In effect the
# model vetoes only what scores below (nearly) every relevant example.
LIVE_SHARES = (0.5, 0.7, 0.9)
# Reshufflings of the folds on which the chosen C and threshold must hold again before the model is used.
CONFIRM = 2
# Fixed seed: the same examples give the same folds, the same C and threshold, the same model.
SEED = 20180701
# Every training parameter above, in the cache key of a trained model: changing one retrains (a cached model
# chosen under other rules would otherwise be used as if it were this version's).
TRAINING = repr((C_GRID, FEATURE_SETS, MIN_PER_CLASS, MAX_FOLDS, MIN_WEIGHT, MIN_DF, MIN_GAIN, LIVE_SHARES,
                 CONFIRM, SEED))


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _gain(tpr: float, fpr: float, priors: Sequence[float]) -> float:
    """The smallest F1 gain of the model over the query across the shares of relevant articles `priors`, given
    the model's rates on what the query passes (keeping relevant ones: `tpr`; irrelevant ones: `fpr`)."""
    worst = math.inf
    for pi in priors:
        tp, fp, fn = pi * tpr, (1 - pi) * fpr, pi * (1 - tpr)
        model = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        worst = min(worst, model - 2 * pi / (1 + pi))  # the query keeps everything: P = pi, R = 1
    return worst


def _pick_threshold(probs: Sequence[float], labels: Sequence[bool], priors: Sequence[float]
                    ) -> tuple[float, int, int, int, float]:
    """(threshold, tp, fp, fn, gain): the threshold on out-of-fold probabilities with the best worst-case F1
    gain over the query across `priors` (ties: the lowest, which vetoes least), placed halfway to the next
    lower probability so it does not sit on an example's score. Keeping everything (gain 0) is the baseline."""
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    pos = sum(labels)
    neg = len(labels) - pos
    best = (0.0, 0.0, pos, neg, 0)
    tp = fp = 0
    for rank, i in enumerate(order[:-1]):
        tp += labels[i]
        fp += not labels[i]
        nxt = probs[order[rank + 1]]
        if nxt == probs[i]:
            continue  # a threshold cannot split equal scores
        g = _gain(tp / pos, fp / neg, priors)
        if g > best[0]:
            best = (g, (probs[i] + nxt) / 2, tp, fp, pos - tp)
    return best[1], best[2], best[3], best[4], best[0]


def train(rows: Sequence[tuple[FeatureSource, bool]], examples_hash: str, groups: Sequence[str] | None = None,
          *, c_grid: Sequence[float] = C_GRID, feature_sets: Sequence[FeatureSet] = FEATURE_SETS,
          threshold: float | None = None, outside: tuple[int, int] = (0, 0), seed: int = SEED,
          min_df: int = MIN_DF, min_gain: int = MIN_GAIN, priors: Sequence[float] = LIVE_SHARES,
          confirm: int = CONFIRM) -> RelevanceModel:
    """Fit a model on (features, relevant) rows of the examples the watch's gate passes.

    Cross-validation chooses the feature set ("structural": the query's evidence and parts, the watch's
    entities, length; "all": also the article's words, pairs and entities), C and the threshold, for the best
    worst-case F1 gain over the query across `priors` (shares of relevant articles among those the query
    passes; `priors=()` considers the examples' own share only). `groups` (one
    key per row, `examples.story_key`) keeps copies of one story in one fold, so cross-validation does not
    test on a story it trained on. `threshold` fixes the decision threshold instead. `outside` = (relevant,
    irrelevant) examples the gate did not pass, only recorded. The model is inactive (keep the query) when it
    cannot be trained or does not make `min_gain` fewer cross-validated mistakes than the query.
    """
    labels = [bool(y) for _, y in rows]
    pos, neg = sum(labels), len(labels) - sum(labels)
    base = TrainingStats(pos, neg, outside[0], outside[1], query_f1=_f1(pos, neg, 0) if pos else None)
    if pos < MIN_PER_CLASS or neg < MIN_PER_CLASS:
        why = (f"too few examples the query passes to learn from: {pos} relevant, {neg} irrelevant "
               f"(need {MIN_PER_CLASS} of each)")
        return RelevanceModel(examples_hash=examples_hash, stats=base, active=False, note=why)
    g = list(groups) if groups is not None else [str(i) for i in range(len(rows))]
    folds = min(MAX_FOLDS, len({k for k, lab in zip(g, labels, strict=True) if lab}),
                len({k for k, lab in zip(g, labels, strict=True) if not lab}))
    if folds < 2:
        return RelevanceModel(examples_hash=examples_hash, stats=base, active=False,
                              note="too few distinct stories to cross-validate")

    from threadpoolctl import threadpool_limits

    # Problems this small run 3x slower on several BLAS threads than on one, and the machine is shared.
    with threadpool_limits(limits=1):
        return _fit(rows, labels, g, folds, examples_hash, base, c_grid, feature_sets, threshold, seed, min_df,
                    min_gain, priors, confirm)


def _matrix(rows: Sequence[tuple[FeatureSource, bool]], feature_set: FeatureSet, min_df: int) -> tuple[Any, Any]:
    from sklearn.feature_extraction import DictVectorizer

    dicts = [{k: v for k, v in f.items() if feature_set == "all" or not is_lexical(k)} for f, _ in rows]
    if min_df > 1:
        df: dict[str, int] = {}
        for d in dicts:
            for k in d:
                df[k] = df.get(k, 0) + 1
        dicts = [{k: v for k, v in d.items() if df[k] >= min_df} for d in dicts]
    vec = DictVectorizer()
    return vec.fit_transform(dicts), vec.get_feature_names_out()


def _oof(fit: Any, c: float, x: Any, y: Any, splits: Sequence[tuple[Any, Any]]) -> list[float]:
    """Out-of-fold probabilities of a model of strength `c` (rows of a one-class training fold stay at 0)."""
    probs = [0.0] * len(y)
    for tr, te in splits:
        if len(set(y[tr])) < 2:
            continue
        for i, pi in zip(te, fit(c, x[tr], y[tr]).predict_proba(x[te])[:, 1], strict=True):
            probs[int(i)] = float(pi)
    return probs


def _counts(probs: Sequence[float], labels: Sequence[bool], t: float) -> tuple[int, int, int]:
    tp = sum(1 for p, lab in zip(probs, labels, strict=True) if p >= t and lab)
    fp = sum(1 for p, lab in zip(probs, labels, strict=True) if p >= t and not lab)
    return tp, fp, sum(labels) - tp


def _fit(rows: Sequence[tuple[FeatureSource, bool]], labels: list[bool], groups: list[str], folds: int,
         examples_hash: str, base: TrainingStats, c_grid: Sequence[float], feature_sets: Sequence[FeatureSet],
         threshold: float | None, seed: int, min_df: int, min_gain: int, priors: Sequence[float], confirm: int
         ) -> RelevanceModel:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    def fit(c: float, xs: Any, ys: Any) -> Any:
        return LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(xs, ys)

    def splits(k: int) -> list[tuple[Any, Any]]:
        return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + k).split(y, y, groups))

    pos, neg = base.positives, base.negatives
    shares = sorted({pos / (pos + neg), *priors})
    y = np.array(labels, dtype=int)
    chosen = splits(0)
    best: tuple[float, int, float, float, int, int, int, FeatureSet] | None = None  # (gain, -set, -c, t, tp, ...)
    matrices = {fs: _matrix(rows, fs, min_df) for fs in feature_sets}
    for rank, fs in enumerate(feature_sets):
        x = matrices[fs][0]
        if x.shape[1] == 0:
            continue  # e.g. no structural features in rows built by hand
        for c in c_grid:
            probs = _oof(fit, c, x, y, chosen)
            if threshold is None:
                t, tp, fp, fn, gain = _pick_threshold(probs, labels, shares)
            else:
                t, (tp, fp, fn) = threshold, _counts(probs, labels, threshold)
                gain = _gain(tp / pos, fp / neg, shares)
            cand = (gain, -rank, -c, t, tp, fp, fn, fs)
            if best is None or cand[:3] > best[:3]:  # ties: the smaller feature set, then the smaller C
                best = cand
    if best is None:
        return RelevanceModel(examples_hash=examples_hash, stats=base, active=False, note="no features to learn from")
    gain, _, neg_c, t, tp, fp, fn, fs = best
    cv_f1 = _f1(tp, fp, fn)
    stats = TrainingStats(pos, neg, base.outside_relevant, base.outside_irrelevant, folds, -neg_c, tp, fp, fn, cv_f1,
                          base.query_f1, 0, fs, gain, tuple(shares))
    # The query alone errs on every irrelevant example it passes; the model must do better by min_gain, and
    # not lose at any share of relevant articles considered: on the folds that chose C and the threshold, and
    # again on `confirm` other shufflings with both fixed (choosing them on the same folds flatters the model).
    mistakes = [fp + fn]
    gains = [gain]
    for k in range(1, confirm + 1) if gain > 0 and fp + fn <= neg - min_gain else ():
        ctp, cfp, cfn = _counts(_oof(fit, -neg_c, matrices[fs][0], y, splits(k)), labels, t)
        mistakes.append(cfp + cfn)
        gains.append(_gain(ctp / pos, cfp / neg, shares))
    if min(gains) <= 0 or max(mistakes) > neg - min_gain:
        return RelevanceModel(examples_hash=examples_hash, stats=stats, active=False,
                              note=f"cross-validated: {'/'.join(map(str, mistakes))} mistakes against the query's "
                                   f"{neg} (F1 {cv_f1:.3f} vs {base.query_f1:.3f}), worst-case F1 gain "
                                   f"{min(gains):+.3f} over shares of relevant "
                                   f"{', '.join(f'{x:.2f}' for x in shares)}: the query decides")
    x, names = matrices[fs]
    model = fit(-neg_c, x, y)
    # sorted, so a model read back from JSON sums its terms in the same order and scores bit for bit alike
    weights = {str(n): float(w) for n, w in sorted(zip(names, model.coef_[0], strict=True)) if abs(w) >= MIN_WEIGHT}
    stats = TrainingStats(**{**asdict(stats), "features": len(weights)})
    return RelevanceModel(weights, float(model.intercept_[0]), float(t), examples_hash, FEATURE_VERSION, stats,
                          True, f"{fs} features, C={-neg_c:g}, threshold {t:.3f}: chosen by {folds}-fold "
                                f"cross-validation ({'/'.join(map(str, mistakes))} mistakes against the query's "
                                f"{neg} on {len(mistakes)} shufflings)")
