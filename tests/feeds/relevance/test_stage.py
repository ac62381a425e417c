"""The pipeline's relevance stage with a tiny model trained through a real gate: a vetoed match alerts nothing."""

from __future__ import annotations

from functools import cache
from typing import Any

from feeds import pipeline
from feeds.dedup.story import StoryAssignment
from feeds.models import Entry, FeedSource, Watch
from feeds.query.watchset import WatchSet
from feeds.relevance.examples import example_article, examples_hash
from feeds.relevance.model import RelevanceModel
from feeds.relevance.stage import Judge, JudgedWatchSet, explain, judge, make_judge
from feeds.relevance.train import fit_watch, label_examples
from tests.feeds.relevance.test_train import GATE, examples, make, setup

FEED = FeedSource(id="f", url="http://example.org/feed", name="F", fetch_pages=False)


class OneStory:
    def assign(self, article_id: str, outlet: str, *args: Any, **kw: Any) -> StoryAssignment:
        return StoryAssignment(f"s-{article_id}", "new", None, (outlet,), 1)


def no_fetch(url: str, **kw: Any) -> Any:
    raise AssertionError("fetch_pages is off: nothing is fetched")


@cache
def trained() -> tuple[WatchSet, Judge]:
    classifier, _ = setup()
    # two watches on the same gate: "w" learns, "plain" has no model and keeps every match
    ws = WatchSet.compile([Watch(id="w", name="w", query=GATE), Watch(id="plain", name="p", query=GATE)],
                          classifier.g.ids)
    exs = examples()
    model = fit_watch(ws, "w", label_examples(exs, classifier), examples_hash(exs))
    assert model.active, model.note
    return ws, make_judge(ws, "w", model)


def run(rel: bool, i: int, judges: dict[str, Judge]) -> pipeline.ArticleResult:
    ex = make(rel, i)
    entry = Entry(feed_id="f", url=f"http://example.org/{i}", guid=str(i), title=ex.title, summary=ex.text)
    ws, _ = trained()
    return pipeline.process(entry, FEED, fetch=no_fetch, classifier=setup()[0], watchset=ws, stories=OneStory(),
                            now=0.0, judges=judges)


def test_process_drops_the_match_the_model_judges_irrelevant_and_scores_the_kept_one() -> None:
    _, j = trained()
    kept = run(True, 200, {"w": j})
    assert {m.watch_id for m in kept.matches} == {"w", "plain"} and not kept.vetoed
    w = next(m for m in kept.matches if m.watch_id == "w")
    assert w.relevance is not None and w.relevance >= j.model.threshold
    assert next(m for m in kept.matches if m.watch_id == "plain").relevance is None
    dropped = run(False, 201, {"w": j})
    assert [m.watch_id for m in dropped.matches] == ["plain"]  # the query matched both; the model vetoed "w"
    assert [m.watch_id for m in dropped.vetoed] == ["w"]
    assert dropped.vetoed[0].relevance is not None and dropped.vetoed[0].relevance < j.model.threshold
    assert pipeline.alerts_for(dropped, lambda wid: Watch(id=wid, name=wid, query=GATE), FEED,
                               Entry("f", "http://example.org/201", "201", "t", "s"))[0].watch_id == "plain"


def test_without_judges_every_match_stays_and_nothing_is_scored() -> None:
    res = run(False, 202, {})
    assert {m.watch_id for m in res.matches} == {"w", "plain"} and not res.vetoed
    assert all(m.relevance is None for m in res.matches)


def test_an_inactive_model_keeps_the_query_and_explain_says_why() -> None:
    ws, j = trained()
    idle = Judge("w", RelevanceModel(note="too few"), j.view)
    art = example_article(make(False, 203))
    c = setup()[0].classify(art)
    matches = ws.match(art, c)
    assert judge(matches, art, c, {"w": idle}) == (tuple(matches), ())
    v = explain(idle, art, c, next(m for m in matches if m.watch_id == "w"))
    assert v.keep and v.contributions == ()


def test_explain_lists_the_features_that_moved_the_score_and_agrees_with_judge() -> None:
    ws, j = trained()
    for rel, i in ((True, 204), (False, 205)):
        art = example_article(make(rel, i))
        c = setup()[0].classify(art)
        m = next(m for m in ws.match(art, c) if m.watch_id == "w")
        v = explain(j, art, c, m)
        assert v.keep == rel and v.contributions
        weights = [abs(w) for _, w in v.contributions]
        assert weights == sorted(weights, reverse=True)
        kept, vetoed = judge([m], art, c, {"w": j})
        assert (kept or vetoed)[0].relevance == v.score


def test_judged_watchset_is_the_watchset_after_the_stage() -> None:
    ws, j = trained()
    art = example_article(make(False, 206))
    c = setup()[0].classify(art)
    assert [m.watch_id for m in JudgedWatchSet(ws, {"w": j}).match(art, c)] == ["plain"]
