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
