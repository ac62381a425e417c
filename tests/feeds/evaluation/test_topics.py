"""Topic scoring: P/R/F1 per gold topic from the topic watches, null gold topics skipped."""

from __future__ import annotations

from feeds.evaluation.topics import TOPICS, evaluate_topics, format_topic_scores, topic_watch_id
from feeds.models import Article, Classification, WatchMatch


class FiresOn:
    """A fake matcher: fires the watches listed for each article URL."""

    def __init__(self, fired: dict[str, list[str]]) -> None:
        self.fired = fired

    def match(self, article: Article, classification: Classification) -> list[WatchMatch]:
        return [WatchMatch(w) for w in self.fired.get(article.url, [])]


def gold(docno: str, **topics: bool | None) -> dict[str, object]:
    return {"docno": docno, "topics": {t: topics.get(t, False) for t in TOPICS}}


def test_scores_count_tp_fp_fn_and_skip_null_gold() -> None:
    items = [(gold("a", idlib=True), Article("a", "", ""), Classification()),
             (gold("b", idlib=True), Article("b", "", ""), Classification()),
             (gold("c"), Article("c", "", ""), Classification()),
             (gold("d", idlib=None), Article("d", "", ""), Classification())]
    matcher = FiresOn({"a": [topic_watch_id("idlib")], "c": ["topic-idlib"], "d": ["topic-idlib"]})
    idlib = evaluate_topics(matcher, items)[0]
    assert (idlib.topic, idlib.tp, idlib.fp, idlib.fn, idlib.tn) == ("idlib", 1, 1, 1, 0)
    assert (idlib.precision, idlib.recall, idlib.f1) == (0.5, 0.5, 0.5)
    assert idlib.false_pos == ["c"] and idlib.false_neg == ["b"]
    assert "idlib                     2   1   1   1  0.500  0.500  0.500" in format_topic_scores([idlib])


def test_topic_watch_ids_follow_the_convention() -> None:
    assert [topic_watch_id(t) for t in TOPICS] == [
        "topic-idlib", "topic-libya-ceasefire", "topic-syria-ceasefire", "topic-chemical-syria",
        "topic-turkey-russia-syria"]
