"""Scoring against gold: micro P/R/F1, optional items, the error list, and a run over fixture articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.errors import InvalidInput
from feeds.evaluation.gold import PRF, EvalError, corpus_article, run_eval, score
from feeds.models import Article, Classification, WatchMatch
from feeds.nlp.classify import Classifier
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from tests.conftest import FIXTURES

CLASSIFY = FIXTURES / "classify"


def gold(docno: str, countries: list[str], actors: dict[str, str] | None = None,
         c_opt: list[str] | None = None, a_opt: list[str] | None = None) -> dict[str, object]:
    return {"docno": docno, "countries": countries, "countries_optional": c_opt or [],
            "actors": actors or {}, "actors_optional": a_opt or []}


def test_micro_counts_and_errors() -> None:
    report = score(
        [gold("d1", ["LY", "SY"], {"putin": "name"}), gold("d2", ["TR"], {"erdogan": "role"})],
        {"d1": ({"LY", "EG"}, {"putin"}), "d2": ({"TR"}, {"putin"})},
    )
    assert (report.countries.tp, report.countries.fp, report.countries.fn) == (2, 1, 1)
    assert (report.actors.tp, report.actors.fp, report.actors.fn) == (1, 1, 1)
    assert report.errors == [
        EvalError("d1", "country", "EG", "fp"), EvalError("d1", "country", "SY", "fn"),
        EvalError("d2", "actor", "putin", "fp"), EvalError("d2", "actor", "erdogan", "fn"),
    ]
    assert report.documents == 2


def test_optional_items_are_neither_rewarded_nor_penalised() -> None:
    g = [gold("d", ["IL"], {}, c_opt=["PS"], a_opt=["fsa_nlf"])]
    with_opt = score(g, {"d": ({"IL", "PS"}, {"fsa_nlf"})})
    without = score(g, {"d": ({"IL"}, set())})
    for r in (with_opt, without):
        assert (r.countries.tp, r.countries.fp, r.countries.fn) == (1, 0, 0)
        assert (r.actors.tp, r.actors.fp, r.actors.fn) == (0, 0, 0)
        assert r.errors == []


def test_actors_outside_the_guideline_list_are_not_scored() -> None:
    r = score([gold("d", [], {"trump": "name"})], {"d": (set(), {"trump", "pompeo", "white_house"})})
    assert (r.actors.tp, r.actors.fp) == (1, 0)


def test_missing_documents_are_listed_not_scored() -> None:
    r = score([gold("d", ["LY"]), gold("e", ["SY"])], {"d": ({"LY"}, set())})
    assert r.missing == ["e"] and r.documents == 1 and r.countries.fn == 0


def test_prf_figures() -> None:
    p = PRF(tp=8, fp=2, fn=0)
    assert p.precision == pytest.approx(0.8) and p.recall == 1.0
    assert p.f1 == pytest.approx(2 * 0.8 / 1.8)
    assert PRF(0, 0, 0).f1 == 1.0
    assert "F1=0.889" in p.format("countries")


def test_corpus_record_becomes_title_abstract_and_text() -> None:
    art = corpus_article({"docno": "d", "title": "عنوان", "abstract": "ملخص مختلف تماما", "text": "النص",
                          "time": "Sun, 18 Feb 2018 21:35:43 +0400", "url": "http://x", "src": "bbc"})
    assert art.document == "عنوان\n\nملخص مختلف تماما\n\nالنص"
    assert art.published is not None and art.published.year == 2018
    same = corpus_article({"title": "t", "abstract": "النص نفسه", "text": "النص نفسه وأكثر", "time": "bad"})
    assert same.text == "النص نفسه وأكثر" and same.published is None


def test_run_eval_on_fixture_articles_reports_and_formats() -> None:
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    report = run_eval(CLASSIFY / "labels.jsonl", CLASSIFY / "corpus.jsonl.gz", clf)
    gold_lines = [json.loads(x) for x in (CLASSIFY / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert report.documents == len(gold_lines) == 6
    assert report.countries.tp + report.countries.fn == sum(len(g["countries"]) for g in gold_lines)
    assert report.countries.f1 >= 0.95 and report.actors.f1 >= 0.95
    text = report.format()
    assert text.splitlines()[0] == "documents: 6"
    assert f"F1={report.countries.f1:.3f}" in text
    # every error line carries the surface and offset that caused it
    for e in report.errors:
        if e.error == "fp":
            assert f"{e.docno} {e.kind} {e.id} fp  '" in text


def test_unreadable_labels_raise_invalid_input(tmp_path: Path) -> None:
    bad = tmp_path / "labels.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    with pytest.raises(InvalidInput, match="line 1"):
        run_eval(bad, CLASSIFY / "corpus.jsonl.gz", clf)
    with pytest.raises(InvalidInput, match="cannot read"):
        run_eval(tmp_path / "absent.jsonl", CLASSIFY / "corpus.jsonl.gz", clf)


class _IdlibWatch:
    """A fake topic watch: fires topic-idlib when the classifier found the place Idlib."""

    def match(self, article: Article, classification: Classification) -> list[WatchMatch]:
        return [WatchMatch("topic-idlib")] if "idlib" in classification.ids("place") else []


def test_run_eval_scores_topic_watches_when_given() -> None:
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    report = run_eval(CLASSIFY / "labels.jsonl", CLASSIFY / "corpus.jsonl.gz", clf, _IdlibWatch())
    gold_lines = [json.loads(x) for x in (CLASSIFY / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    idlib = next(t for t in report.topics if t.topic == "idlib")
    assert idlib.tp + idlib.fn == sum(1 for g in gold_lines if g["topics"]["idlib"])
    assert idlib.fn == 0
    assert "idlib" in report.format() and "turkey_russia_syria" in report.format()
