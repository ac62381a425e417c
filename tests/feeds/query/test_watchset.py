"""WatchSet: compile errors, YAML loading, the term index, thresholds, evidence and explanations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from feeds.errors import InvalidInput
from feeds.models import Article, Classification, Mention, MentionKind, Watch
from feeds.query.load import load_watches
from feeds.query.syntax import QueryError, parse_query
from feeds.query.watchset import WatchSet
from tests.conftest import REPO
from tests.feeds.query.test_query import S, classification

FIELD = "a known field (region:, place:, actor:, feed:, lang:, title:, lead:)"
KNOWN: dict[str, set[str]] = {"region": {"LY", "SY", "TR", "RU"}, "place": {"idlib", "aleppo", "tripoli_lb"},
                              "actor": {"haftar", "sarraj", "guterres", "erdogan"}}


def known(kind: MentionKind) -> set[str]:
    return KNOWN[kind]


def compile_one(query: str, **kw: object) -> WatchSet:
    return WatchSet.compile([Watch(id="w", name="w", query=query, source="x.yaml", **kw)], known)  # type: ignore[arg-type]


def article(key: str, title: str = "") -> Article:
    return Article(url="u", title=title, text=S[key])


@pytest.mark.parametrize(("query", "column", "expected"), [
    ("هدنة AND (غزة", 14, "')'"),
    ("هدنة OR", 8, "a word, phrase, entity or '('"),
    ("NEAR/5 هدنة", 1, "a word, phrase, entity or '('"),
    ("هدنة NEAR/0 غزة", 6, "NEAR/n with n from 1 to 200"),
    ('"وقف إطلاق', 11, "a closing '\"'"),
    ("هدنة)", 5, "AND, OR, NEAR/n or end of query"),
    ("region: LY", 9, "an id right after region: (e.g. region:LY)"),
    ("ه* OR هدنة", 1, "at least 2 letters before *"),
    ("(NOT هدنة) NEAR/5 NOT غزة", 12, "a positive side for NEAR (both sides are NOT)"),
    ("هدنة NEAR/5 feed:bbc", 13, "a word, phrase or entity inside NEAR"),
    ("هدنة AND regoin:SY", 10, FIELD),
    ("titel:(هدنة OR إدلب)", 1, FIELD),
    ("Region:SY", 1, FIELD),
])
def test_parse_error_gives_column_and_what_was_expected(query: str, column: int, expected: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert (info.value.column, info.value.expected) == (column, expected)
    assert info.value.reason.startswith(f"column {column}: expected {expected}, got ")


def test_a_misspelt_field_names_the_field_it_resembles() -> None:
    with pytest.raises(QueryError, match=r"got 'regoin:'; did you mean region:\?"):
        parse_query("regoin:SY")
    assert parse_query('"CNN:" هدنة').kind == "and"  # quoted, the text itself is searched


def test_compile_reports_every_bad_watch_with_file_index_and_id() -> None:
    watches = [Watch("ok", "ok", "هدنة", source="a.yaml"), Watch("bad1", "b", "هدنة OR", source="a.yaml"),
               Watch("bad2", "b", "(غزة", source="b.yaml")]
    with pytest.raises(InvalidInput) as info:
        WatchSet.compile(watches, known)
    lines = info.value.reason.splitlines()
    assert lines == [
        "a.yaml: watches[1] bad1: query: column 8: expected a word, phrase, entity or '(', got end of query",
        "b.yaml: watches[0] bad2: query: column 5: expected ')', got end of query",
    ]


def test_unknown_entity_ids_are_errors_with_nearest_known_ids() -> None:
    with pytest.raises(InvalidInput) as info:
        compile_one("place:idleb OR actor:hafter OR region:LX")
    msg = info.value.reason
    assert "column 1: unknown place id 'idleb'; did you mean idlib?" in msg
    assert "column 16: unknown actor id 'hafter'; did you mean haftar?" in msg
    assert re.search(r"column 32: unknown region id 'LX'; did you mean .*LY", msg)


def test_match_returns_evidence_spans_in_the_document() -> None:
    ws = compile_one('"وقف إطلاق النار" NEAR/15 region:LY')
    art = article("libya")
    c = classification(art.document, [("region", "LY", "ليبيا")])
    [m] = ws.match(art, c)
    assert m.watch_id == "w"
    assert [s.text for s in m.evidence] == ["ليبيا", "وقف إطلاق النار"]
    assert all(art.document[s.start:s.end] == s.text for s in m.evidence)


def test_min_mentions_counts_occurrences() -> None:
    art = article("libya")  # الأمم المتحدة twice
    assert compile_one('"الأمم المتحدة"', min_mentions=2).match(art, Classification())
    assert not compile_one('"الأمم المتحدة"', min_mentions=3).match(art, Classification())


def test_threshold_on_weighted_terms() -> None:
    art = article("libya")  # ليبيا once (3) + الأمم المتحدة twice (2 each) = 7
    assert compile_one('ليبيا^3 OR "الأمم المتحدة"^2', threshold=7).match(art, Classification())
    assert not compile_one('ليبيا^3 OR "الأمم المتحدة"^2', threshold=7.5).match(art, Classification())
    # a single passing mention does not reach the threshold
    assert not compile_one("ليبيا^3 OR سرت^3", threshold=6).match(art, Classification())


def test_index_skips_watches_whose_terms_are_absent_but_keeps_not_queries() -> None:
    watches = [Watch("gaza", "g", "غزة NEAR/10 هدنة"), Watch("libya", "l", '"وقف إطلاق النار" region:LY'),
               Watch("notgaza", "n", "NOT غزة"), Watch("pre", "p", "كيميا*")]
    ws = WatchSet.compile(watches, known)
    from feeds.query.evaluate import Doc
    doc = Doc(article("opcw"), Classification())
    ids = [ws.watches[i].id for i in ws.candidates(doc)]
    assert ids == ["notgaza", "pre"]
    assert [m.watch_id for m in ws.match(article("opcw"), Classification())] == ["notgaza", "pre"]
    assert [m.watch_id for m in ws.match(article("gaza"), Classification())] == ["gaza"]


def test_explain_tree_values_and_spans_as_data() -> None:
    ws = compile_one("هدنة NEAR/5 NOT غزة")
    exp = ws.explain("w", article("gaza"), Classification())
    d = json.loads(json.dumps(exp.to_dict(), ensure_ascii=False))
    assert d["matched"] is True
    assert d["tree"]["text"] == "هدنة NEAR/5 NOT غزة"
    kids = d["tree"]["children"]
    assert [(k["text"], k["value"]) for k in kids] == [("هدنة", True), ("NOT غزة", False)]
    assert [s["text"] for s in kids[0]["spans"]] == ["الهدنة"]
    assert kids[1]["children"][0]["value"] is True  # غزة itself occurs (too far away to block)


def test_explain_render_marks_matches_plain_and_in_colour() -> None:
    ws = compile_one('"وقف إطلاق النار"')
    exp = ws.explain("w", article("lwaqf"), Classification())
    plain = exp.render(text_width=200, color=False)
    assert "[[لوقف إطلاق النار]]" in plain
    # wrapped inside a match: the mark is closed at the line end and reopened on the next line
    assert "[[لوقف]]\n[[إطلاق النار]]" in exp.render(text_width=60, color=False)
    assert "✓ \"وقف إطلاق النار\"" in plain
    assert "\x1b[" not in plain
    coloured = exp.render(color=True)
    assert "\x1b[1;30;43mلوقف إطلاق النار\x1b[0m" in coloured


def test_explain_render_shows_an_articles_control_characters_as_replacement_marks() -> None:
    ws = compile_one("هدنة")
    hostile = Article(url="u", title="هدنة", text="\x1b]0;owned\x07 \x1b[2J الهدنة \x9b31m صامدة")
    plain = ws.explain("w", hostile, Classification()).render(color=False)
    assert "\x1b" not in plain and "\x07" not in plain and "\x9b" not in plain
    assert "[[الهدنة]]" in plain and "\ufffd]0;owned\ufffd" in plain  # offsets held: the marks still fit


def test_explain_a_non_match_says_why_and_marks_partial_matches() -> None:
    ws = compile_one("ليبيا NEAR/3 هدنة")
    exp = ws.explain("w", article("gaza"), Classification())
    assert not exp.matched
    assert not exp.tree.children[0].value and exp.tree.children[1].value
    assert "[[الهدنة]]" in exp.render(color=False)
    assert not exp.candidate  # keyed on its first required word, ليبيا: absent, so never evaluated


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_watches_from_folder_maps_fields(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", """watches:
  - {id: libya-ceasefire, name: Libya ceasefire, query: 'هدنة NEAR/15 region:LY', notify: [console],
     severity: high, follow_ups: true, min_mentions: 2, threshold: 3}
""")
    _write(tmp_path, "b.yaml", "watches:\n  - {id: idlib, query: 'place:idlib'}\n")
    ws = load_watches([tmp_path])
    assert ws[0] == Watch("libya-ceasefire", "Libya ceasefire", "هدنة NEAR/15 region:LY", ("console",), "high",
                          True, 2, 3.0, str(tmp_path / "a.yaml"))
    assert (ws[1].id, ws[1].name, ws[1].severity, ws[1].threshold) == ("idlib", "idlib", "medium", None)


def test_load_watches_lists_every_problem_with_file_and_field(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", """watches:
  - {id: x, query: هدنة, severity: urgent, min_mentions: 0, colour: red}
  - {id: y, query: ''}
  - {id: x, query: غزة}
""")
    b = _write(tmp_path, "b.yaml", "watches: [\n")
    with pytest.raises(InvalidInput) as info:
        load_watches([a, b, tmp_path / "missing.yaml"])
    lines = info.value.reason.splitlines()
    assert f"{a}: watches[0] x: severity: expected one of low, medium, high, critical, got 'urgent'" in lines
    assert f"{a}: watches[0] x: min_mentions: expected a whole number ≥ 1, got 0" in lines
    assert any(line.startswith(f"{a}: watches[0] x: colour: unknown field") for line in lines)
    assert f"{a}: watches[1] y: query: expected a non-empty string, got ''" in lines
    assert any(line.startswith(f"{b}: yaml: ") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'missing.yaml'}: file: cannot read") for line in lines)
    assert len(lines) == 6  # the second x is not reported as a duplicate: the first x was rejected


def test_duplicate_ids_across_files_are_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "watches: [{id: x, query: هدنة}]\n")
    b = _write(tmp_path, "b.yaml", "watches: [{id: x, query: غزة}]\n")
    with pytest.raises(InvalidInput) as info:
        load_watches([tmp_path])
    assert info.value.reason == f"{b}: watches[0] x: id: duplicate, first defined in {tmp_path / 'a.yaml'}"


def test_shipped_watchlists_load_and_compile_against_the_gazetteer() -> None:
    from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer

    root = REPO
    watches = load_watches([root / "config" / "watchlists"])
    ids = {w.id for w in watches}
    assert {"idlib", "libya-ceasefire", "topic-idlib", "topic-libya-ceasefire", "topic-syria-ceasefire",
            "topic-chemical-syria", "topic-turkey-russia-syria"} <= ids
    gaz = load_gazetteer(default_gazetteer_paths())
    assert len(WatchSet.compile(watches, gaz.ids)) == len(watches)


def test_shipped_libya_watch_fires_on_a_libya_ceasefire_sentence_with_the_real_classifier() -> None:
    from feeds.nlp.classify import Classifier
    from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer

    root = REPO
    gaz = load_gazetteer(default_gazetteer_paths())
    ws = WatchSet.compile(load_watches([root / "config" / "watchlists" / "libya.yaml"]), gaz.ids)
    classifier = Classifier(gaz)
    libya, gaza = article("libya"), article("gaza")
    assert [m.watch_id for m in ws.match(libya, classifier.classify(libya))] == ["libya-ceasefire"]
    assert ws.match(gaza, classifier.classify(gaza)) == []


def test_compile_error_is_a_query_error_with_the_first_column() -> None:
    with pytest.raises(QueryError) as info:
        compile_one("place:idlib OR (هدنة")
    assert (info.value.column, info.value.expected) == (21, "')'")
    assert info.value.reason == "x.yaml: watches[0] w: query: column 21: expected ')', got end of query"


def test_overlapping_evidence_from_entity_and_term_is_merged() -> None:
    art = article("idlib_w")  # وإدلب: the classifier's mention covers إدلب, the term the whole word
    start = art.document.index("وإدلب") + 1
    c = Classification(mentions=(Mention("place", "idlib", start, start + 4, "إدلب"),))
    [m] = compile_one("place:idlib OR إدلب").match(art, c)
    assert [s.text for s in m.evidence] == ["وإدلب"]


def test_render_puts_each_node_on_one_line_within_the_width() -> None:
    query = "(هدنة OR\n   تهدئة OR \"وقف إطلاق النار\" OR \"وقف القتال\" OR \"وقف الأعمال العدائية\") NEAR/5 دولية"
    exp = compile_one(query).explain("w", article("gaza"), Classification())
    tree = exp.render(text_width=60, color=False).split("\n\n")[1].splitlines()
    assert len(tree) == 1 + 2 + 5
    assert all(len(line) <= 60 for line in tree)
    assert tree[0].startswith("✓ (هدنة OR تهدئة OR") and tree[0].endswith("…  (2 matches)")  # الهدنة, دولية


def test_a_typed_in_query_is_named_by_its_id_and_an_unknown_id_far_from_all_says_how_to_find_one() -> None:
    with pytest.raises(QueryError) as info:
        WatchSet.compile([Watch(id="query-1", name="(غزة", query="(غزة")], known)
    assert info.value.reason == "query-1: column 5: expected ')', got end of query"
    with pytest.raises(InvalidInput) as bad:
        compile_one("place:zzzzzz")
    assert bad.value.reason.endswith("unknown place id 'zzzzzz'; none of the gazetteer's 3 place ids is close "
                                     "(`marsad classify` on an article shows the ids it finds)")


def test_a_bad_field_and_a_bad_query_are_reported_in_one_run(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("watches:\n  - id: w\n    severity: urgent\n    query: '(إدلب OR هدنة'\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        load_watches([f])
    lines = err.value.reason.splitlines()
    assert lines[0].startswith(f"{f}: watches[0] w: severity: expected one of")
    assert lines[1].startswith(f"{f}: watches[0] w: query: column ") and len(lines) == 2
