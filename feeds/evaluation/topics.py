"""Score the topic watches (config/watchlists/topics.yaml) against the gold topics of the labelled corpus."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from feeds.models import Article, Classification, WatchMatch

TOPICS = ("idlib", "libya_ceasefire", "syria_ceasefire", "chemical_syria", "turkey_russia_syria")


class _Matcher(Protocol):
    def match(self, article: Article, classification: Classification) -> list[WatchMatch]: ...


def topic_watch_id(topic: str) -> str:
    """The id of the watch that stands for a gold topic: "topic-" + the topic with "_" → "-"."""
    return "topic-" + topic.replace("_", "-")


@dataclass
class TopicScore:
    """Counts for one topic over the labelled articles whose gold value is not null, with the errors."""

    topic: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    false_pos: list[str] = field(default_factory=list)
    false_neg: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate_topics(watchset: _Matcher,
                    items: Iterable[tuple[Mapping[str, Any], Article, Classification]]) -> list[TopicScore]:
    """Match every (gold label, article, classification); a topic is predicted when its watch fires.

    Gold topics that are null (the two labellers disagreed) are skipped, as the guidelines say.
    """
    scores = {t: TopicScore(t) for t in TOPICS}
    for gold, article, classification in items:
        fired = {m.watch_id for m in watchset.match(article, classification)}
        docno = str(gold.get("docno", article.url))
        for topic in TOPICS:
            want = gold.get("topics", {}).get(topic)
            if want is None:
                continue
            got = topic_watch_id(topic) in fired
            s = scores[topic]
            if got and want:
                s.tp += 1
            elif got:
                s.fp += 1
                s.false_pos.append(docno)
            elif want:
                s.fn += 1
                s.false_neg.append(docno)
            else:
                s.tn += 1
    return [scores[t] for t in TOPICS]


def format_topic_scores(scores: Iterable[TopicScore], errors: bool = True) -> str:
    """A table of P/R/F1 per topic (and the docnos of the errors)."""
    lines = [f"{'topic':<22} {'gold':>4} {'tp':>3} {'fp':>3} {'fn':>3} {'P':>6} {'R':>6} {'F1':>6}"]
    for s in scores:
        lines.append(f"{s.topic:<22} {s.tp + s.fn:>4} {s.tp:>3} {s.fp:>3} {s.fn:>3} "
                     f"{s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}")
        if errors and (s.false_pos or s.false_neg):
            lines.append(f"    fp: {' '.join(s.false_pos) or '-'}")
            lines.append(f"    fn: {' '.join(s.false_neg) or '-'}")
    return "\n".join(lines)


# eval/labels-topics.jsonl's split (eval/draw_topics.py PERIOD_SPLIT): articles published before this day are the
# tune part (examples may come from it), the rest the held-out part that no parameter sees.
SPLIT_DATE = "2018-07-01"
SPLITS = ("tune", "heldout")


def split_of(gold: Mapping[str, Any]) -> str:
    """A labelled article's part: its `split` field, else by the date that ends an ANT docno (…-20180814)."""
    given = gold.get("split")
    if given in SPLITS:
        return str(given)
    d = str(gold.get("docno", "")).rsplit("-", 1)[-1]
    return "tune" if f"{d[:4]}-{d[4:6]}-{d[6:8]}" < SPLIT_DATE else "heldout"


def evaluate_splits(variants: Mapping[str, _Matcher],
                    items: Iterable[tuple[Mapping[str, Any], Article, Classification]]
                    ) -> list[tuple[str, str, list[TopicScore]]]:
    """(variant, split, scores) for every variant (e.g. the watches without and with their examples) and part."""
    items = list(items)
    return [(name, split, evaluate_topics(m, [i for i in items if split_of(i[0]) == split]))
            for name, m in variants.items() for split in SPLITS]


def micro_f1(scores: Iterable[TopicScore]) -> float:
    tp = fp = fn = 0
    for s in scores:
        tp, fp, fn = tp + s.tp, fp + s.fp, fn + s.fn
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def format_splits(results: Iterable[tuple[str, str, list[TopicScore]]]) -> str:
    blocks = []
    for name, split, scores in results:
        n = max((s.tp + s.fp + s.fn + s.tn for s in scores), default=0)
        blocks.append(f"topics, {split} part ({n} articles), {name}: micro F1 {micro_f1(scores):.3f}\n"
                      + format_topic_scores(scores, errors=False))
    return "\n\n".join(blocks)
