"""The event rule on real reports (pure): rewrites of one event score as one, look-alike events apart;
stories close; drift is bounded; vectors are compact and quantised as Redis keeps them."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from feeds.dedup import df as dfmod
from feeds.dedup import event as ev
from feeds.evaluation.gold import corpus_article
from feeds.models import Article, Classification
from feeds.nlp.classify import Classifier
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from tests.conftest import event_fixtures

DOCS, PAIRS = event_fixtures()


@pytest.fixture(scope="module")
def vectors() -> dict[str, ev.EventVector]:
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    base, n = dfmod.base()
    out = {}
    for k, d in DOCS.items():
        art = corpus_article(d)
        t = parsedate_to_datetime(d["time"]).timestamp()
        out[k] = ev.vectorise(ev.event_terms(art, clf.classify(art)), lambda h: base.get(h, 0), n, t)
    return out


@pytest.mark.parametrize(("a", "b"), PAIRS["same_event"])
def test_reports_of_one_event_in_their_own_words_are_one_story(vectors: dict[str, ev.EventVector], a: str,
                                                               b: str) -> None:
    sig = ev.pair_signals(vectors[a], vectors[b])
    assert sig.same, sig


@pytest.mark.parametrize(("a", "b"), PAIRS["different_event"])
def test_look_alike_events_of_one_day_stay_apart(vectors: dict[str, ev.EventVector], a: str, b: str) -> None:
    sig = ev.pair_signals(vectors[a], vectors[b])
    assert not sig.same and sig.entities > 0.5, sig  # same places and actors, different happening


def test_a_story_closes_after_its_window(vectors: dict[str, ev.EventVector]) -> None:
    a, b = PAIRS["same_event"][0]
    story = ev.Story()
    story.add(vectors[a])
    later = ev.EventVector(vectors[b].content, vectors[b].title, vectors[b].entities,
                           story.first + ev.MAX_HOURS * 3600 + 1, vectors[b].rare)
    assert not ev.open_for(later, story)
    assert ev.best_story(later, {"s": story}) == (None, None)
    assert ev.best_story(vectors[b], {"s": story})[0] == "s"


def test_a_report_published_before_the_story_began_joins_within_the_idle_window(
        vectors: dict[str, ev.EventVector]) -> None:
    """Reports arrive out of publication order: one published before the story's first report is scored by the
    hours between them either way, and taken up to IDLE_HOURS before it."""
    a, b = PAIRS["same_event"][0]
    story = ev.Story()
    story.add(vectors[a])

    def at(t: float) -> ev.EventVector:
        return ev.EventVector(vectors[b].content, vectors[b].title, vectors[b].entities, t, vectors[b].rare)

    before, after = at(story.first - 3 * 3600), at(story.first + 3 * 3600)
    assert ev.signals(before, story).score == pytest.approx(ev.signals(after, story).score)
    assert ev.best_story(before, {"s": story})[0] == "s"
    too_early = at(story.first - ev.IDLE_HOURS * 3600 - 1)
    assert not ev.open_for(too_early, story)
    assert ev.best_story(too_early, {"s": story}) == (None, None)


def test_drift_is_bounded_the_first_report_keeps_its_weight() -> None:
    first = ev.EventVector({1: 1.0}, {}, {}, 0.0)
    story = ev.Story()
    story.add(first)
    for i in range(50):  # fifty later reports all about term 2
        story.add(ev.EventVector({2: 1.0}, {}, {}, float(i)))
    assert story.content[1] > story.content[2]  # the event it began with still dominates its vector


def test_vectors_are_bounded_unit_and_quantised() -> None:
    text = " ".join(f"كلمة{i}" for i in range(400))
    v = ev.vectorise(ev.event_terms(Article(url="", title="عنوان الخبر", text=text), Classification()),
                     lambda h: 1.0, 1000.0, 12.7)
    assert len(v.content) <= ev.CONTENT_TERMS and len(v.title) <= ev.TITLE_TERMS and v.t == 12.0
    assert abs(sum(x * x for x in v.content.values()) - 1) < 0.05
    assert all(abs(x * ev.QUANT - round(x * ev.QUANT)) < 1e-9 for x in v.content.values())
    assert len(v.posting_keys()) <= ev.POST_TERMS + ev.POST_ENTITIES
