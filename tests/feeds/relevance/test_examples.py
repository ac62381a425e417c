"""Examples files: the JSON-lines format, errors as file:line: field: message, hash, JSON lines, → Article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.errors import InvalidInput
from feeds.relevance import examples as ex_mod
from feeds.relevance.examples import (
    Example,
    example_article,
    example_to_json,
    examples_hash,
    load_examples,
    parse_examples,
    story_key,
)

GOOD = "\n".join([
    json.dumps({"title": "هدنة في إدلب", "text": "أعلن وقف إطلاق النار.", "relevant": True, "id": "a",
                "url": "https://example.org/a", "published": "2018-09-17T10:00:00+00:00"}, ensure_ascii=False),
    "",
    "   ",
    json.dumps({"title": "", "text": "نص فقط", "relevant": False}, ensure_ascii=False),
])


def test_parses_required_and_optional_fields_and_skips_blank_lines() -> None:
    got = parse_examples(GOOD, "x.jsonl")
    assert got == [Example("هدنة في إدلب", "أعلن وقف إطلاق النار.", True, "a", "https://example.org/a",
                           "2018-09-17T10:00:00+00:00"),
                   Example("", "نص فقط", False)]


def test_line_separators_inside_strings_do_not_split_lines() -> None:
    # json.dumps(ensure_ascii=False) writes U+2028 and U+0085 raw; str.splitlines() would cut there
    line = json.dumps({"title": "t", "text": "a\u2028b\u0085c", "relevant": True}, ensure_ascii=False)
    assert parse_examples(line, "x.jsonl")[0].text == "a\u2028b\u0085c"


@pytest.mark.parametrize(("line", "message"), [
    ('{"title": "t", "text": "x", "relevant": tru}', "x.jsonl:3: json: not valid JSON"),
    ('{"text": "x", "relevant": true}', "x.jsonl:3: title: missing"),
    ('{"title": "t", "relevant": true}', "x.jsonl:3: text: missing"),
    ('{"title": "t", "text": "x"}', "x.jsonl:3: relevant: missing"),
    ('{"title": "t", "text": "x", "relevant": "yes"}', 'x.jsonl:3: relevant: expected true or false, got "yes"'),
    ('{"title": "t", "text": "x", "relevant": 1}', "x.jsonl:3: relevant: expected true or false, got 1"),
    ('{"title": 5, "text": "x", "relevant": true}', "x.jsonl:3: title: expected a string, got 5"),
    ('{"title": "t", "text": ["x"], "relevant": true}', "x.jsonl:3: text: expected a string"),
    ('{"title": " ", "text": "", "relevant": true}', "x.jsonl:3: text: title and text are both empty"),
    ('{"title": "t", "text": "x", "relevant": true, "id": 7}', "x.jsonl:3: id: expected a string or null, got 7"),
    ('{"title": "t", "text": "x", "relevant": true, "published": "yesterday"}',
     "x.jsonl:3: published: expected an ISO 8601 date"),
    ('{"title": "t", "text": "x", "relevant": true, "label": 1}', "x.jsonl:3: label: unknown field"),
    ('["t", "x", true]', "x.jsonl:3: line: expected a JSON object, got list"),
    ("[" * 100_000, "x.jsonl:3: json: not valid JSON"),
])
def test_every_error_names_file_line_and_field(line: str, message: str) -> None:
    text = "\n".join(['{"title": "a", "text": "b", "relevant": true}', "", line, '{"broken'])
    with pytest.raises(InvalidInput) as err:
        parse_examples(text, "x.jsonl")
    assert err.value.reason.startswith(message), err.value.reason


def test_too_long_line_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex_mod, "MAX_LINE_BYTES", 1_000_000)
    long = json.dumps({"title": "t", "text": "ب" * 600_000, "relevant": True}, ensure_ascii=False)  # 1.2 MB
    with pytest.raises(InvalidInput, match=r"^x.jsonl:1: line: longer than 1 MB"):
        parse_examples(long, "x.jsonl")


def test_too_many_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex_mod, "MAX_EXAMPLES", 2)
    lines = "\n".join(json.dumps({"title": f"t{i}", "text": "x", "relevant": True}) for i in range(3))
    with pytest.raises(InvalidInput, match=r"^x.jsonl:3: line: more than 2 examples"):
        parse_examples(lines, "x.jsonl")


def test_a_later_label_for_the_same_id_replaces_the_earlier_one_in_place() -> None:
    lines = [{"id": "a", "title": "t", "text": "x", "relevant": True},
             {"id": "b", "title": "u", "text": "y", "relevant": True},
             {"id": "a", "title": "t", "text": "x", "relevant": False}]
    got = parse_examples("\n".join(json.dumps(x) for x in lines), "x.jsonl")
    assert [(e.id, e.relevant) for e in got] == [("a", False), ("b", True)]


def test_load_examples_reports_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing.jsonl: file: not found \(to start labelling, create it empty"):
        load_examples(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"title": "a", "text": "b", "relevant": true}\n{"title": "\xff"}\n')
    with pytest.raises(InvalidInput, match=r"bad.jsonl:2: line: not UTF-8"):
        load_examples(bad)
    good = tmp_path / "good.jsonl"
    good.write_text(GOOD, encoding="utf-8")
    assert len(load_examples(good)) == 2


def test_hash_is_stable_and_independent_of_spelling() -> None:
    a = parse_examples(GOOD, "x.jsonl")
    # the same examples written with other key order, escapes and spacing
    respelled = "\n".join(json.dumps(dict(reversed(list(json.loads(line).items())))) for line in GOOD.split("\n")
                          if line.strip())
    assert examples_hash(parse_examples(respelled, "y.jsonl")) == examples_hash(a)
    # pinned: a change of the canonical form would silently invalidate every cached model
    assert examples_hash([Example("t", "x", True)]) == examples_hash([Example("t", "x", True, None, None, None)])
    assert examples_hash([Example("t", "x", True)]) == (
        "b5d35c8eb75d82871868f82f7cb8e60f468a621438e61157ab8fd2a66c9291b8")
    assert examples_hash([Example("t", "x", False)]) != examples_hash([Example("t", "x", True)])
    assert examples_hash(a[::-1]) != examples_hash(a)


def test_json_line_round_trip() -> None:
    for ex in parse_examples(GOOD, "x.jsonl"):
        line = example_to_json(ex)
        assert "\n" not in line and ("هدنة" in line or "نص" in line)  # one line, Arabic unescaped
        assert parse_examples(line, "x.jsonl") == [ex]


def test_example_article_keeps_the_date_for_role_titles() -> None:
    a = example_article(parse_examples(GOOD, "x.jsonl")[0])
    assert a.published is not None and a.published.year == 2018
    assert a.url == "https://example.org/a" and a.title == "هدنة في إدلب"
    assert example_article(Example("t", "x", True, id="doc-1")).url == "doc-1"


def test_story_key_is_the_same_for_copies_of_one_headline() -> None:
    assert story_key("الهدنة في إدلب!", "x") == story_key("الهدنه في ادلب", "y")
    assert story_key("", "نص طويل") == "نص طويل"


def test_every_bad_line_is_reported_not_only_the_first() -> None:
    good = '{"title": "t", "text": "x", "relevant": true}'
    text = "\n".join([good, '{"title": 5, "text": "x", "relevant": true}', good,
                      '{"title": "t", "text": "x", "relevnt": true}', "{not json",
                      '{"title": "t", "text": "x", "relevant": true, "published": "yesterday"}'])
    with pytest.raises(InvalidInput) as err:
        parse_examples(text, "ex.jsonl")
    assert [line.split(": ")[0:2] for line in err.value.reason.splitlines()] == [
        ["ex.jsonl:2", "title"], ["ex.jsonl:4", "relevnt"], ["ex.jsonl:5", "json"], ["ex.jsonl:6", "published"]]


def test_a_file_of_bad_lines_reports_the_first_ones_and_counts_the_rest() -> None:
    from feeds.relevance.examples import MAX_PROBLEMS

    with pytest.raises(InvalidInput) as err:
        parse_examples("\n".join(["nope"] * (MAX_PROBLEMS + 5)), "ex.jsonl")
    lines = err.value.reason.splitlines()
    assert len(lines) == MAX_PROBLEMS + 1 and lines[-1] == "ex.jsonl: … and 5 more bad lines"
