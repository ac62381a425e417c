"""Hostile files and pages against the project's own loaders and evaluator: refused with `file: where: why`
in well under a second of work, never a MemoryError, a RecursionError or a stalled worker."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from feeds import yamlfile
from feeds.errors import InvalidInput
from feeds.ingest.extract import MAX_TEXT_CHARS, extract_article
from feeds.models import Article, Classification
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from feeds.query.evaluate import Doc, evaluate
from feeds.query.load import load_watches
from feeds.query.syntax import MAX_DEPTH, QueryError, parse_query
from feeds.query.watchset import WatchSet

# Nine nested aliases: 9^9 ≈ 387 million list items once expanded (the "billion laughs").
BOMB = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n" + "".join(
    f"{x}: &{x} [{', '.join(['*' + p] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi", strict=True))


def within(seconds: float, fn: Any) -> Any:
    """Run fn in a thread; fail (instead of hanging the suite) if it has not returned in time."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_alias_bomb_in_a_watchlist_is_refused_with_the_line(tmp_path: Path) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("watches:\n  - id: w\n    query: إدلب\n    notify: *boom\n" + BOMB.replace("a: &a", "x: &boom", 1),
                 encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        within(5, lambda: load_watches([f]))
    assert err.value.reason.startswith(f"{f}: yaml: line 4 column 13: aliases (*name) are not allowed")
    assert len(err.value.reason) < 400


def test_alias_bomb_in_marsad_yaml_is_refused(tmp_path: Path) -> None:
    from workers.config.load import load_settings

    cfg = tmp_path / "marsad.yaml"
    cfg.write_text("sinks: {console: {type: log}}\n" + BOMB, encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        within(5, lambda: load_settings(cfg, env={}))
    assert f"{cfg}: (file): not valid YAML: line 3" in err.value.reason and "aliases" in err.value.reason


def test_deeply_nested_yaml_is_refused() -> None:
    with pytest.raises(Exception) as err:
        yamlfile.loads("x: " + "[" * 10_000 + "]" * 10_000)
    assert "nested deeper than" in yamlfile.describe(err.value)


@pytest.mark.parametrize("query", ["(" * 5000 + "إدلب" + ")" * 5000, "NOT " * 3000 + "إدلب",
                                   " NEAR/2 ".join(["إدلب"] * 1500), "title:(" * 1000 + "إدلب" + ")" * 1000,
                                   "title:" * 2000 + "إدلب", "lead:" * 2000 + "إدلب"])
def test_deep_queries_are_check_errors_naming_the_watch(tmp_path: Path, query: str) -> None:
    f = tmp_path / "w.yaml"
    f.write_text("watches:\n  - id: deep\n    query: '" + query + "'\n", encoding="utf-8")
    gaz = load_gazetteer(default_gazetteer_paths())
    with pytest.raises(QueryError) as err:
        WatchSet.compile(load_watches([f]), gaz.ids)
    assert err.value.reason.startswith(f"{f}: watches[0] deep: query: column ")


def test_nesting_up_to_the_limit_still_parses() -> None:
    assert parse_query("(" * (MAX_DEPTH - 1) + "إدلب" + ")" * (MAX_DEPTH - 1)).kind == "term"


def test_near_on_a_long_page_is_linear() -> None:
    """160 KB of text where both sides occur thousands of times: every pair compared took over a minute."""
    text = " ".join(["إدلب قصف"] + ["كلمة"] * 3 + ["هدنة"] + ["كلمة"] * 3 + [""]) * 3700
    assert len(text) > 160_000
    doc = Doc(Article(url="", title="", text=text), Classification())
    node = parse_query("إدلب NEAR/200 هدنة")
    res = within(10, lambda: evaluate(node, doc))
    assert res.value and len(res.hits) == 3700


def test_an_endless_page_is_cut_with_a_note() -> None:
    paras = "".join(f"<p>الفقرة {i}: " + f"قصفت الطائرات {i} موقعا في ريف إدلب الجنوبي صباح اليوم. " * 12 + "</p>"
                    for i in range(200))  # distinct paragraphs: the extractor drops repeated ones
    html = "<html><head><title>عنوان</title></head><body><article>" + paras + "</article></body></html>"
    art = extract_article(html.encode(), {"Content-Type": "text/html; charset=utf-8"}, "https://example.org/a")
    assert len(art.text) == MAX_TEXT_CHARS and art.note.startswith(f"text cut at {MAX_TEXT_CHARS:,} of ")


def quick(seconds: float, fn: Any) -> Any:
    """fn's value, failing if it took longer than `seconds`. For work inside one regex call: `re` holds the
    GIL, so `within` could not stop it; these sizes keep the old, quadratic or exponential, code to seconds."""
    t0 = time.monotonic()
    value = fn()
    assert time.monotonic() - t0 < seconds, f"took {time.monotonic() - t0:.1f} s"
    return value


# Shapes on which a regex rescanned to the end from every start: each took 5-15 s at these sizes before (and
# hours at 5 MB); linear, each is well under 0.1 s.
HOSTILE_FRAGMENTS = {"lt": "<" * 100_000, "unclosed_scripts": "<script " * 30_000,
                     "unclosed_tags_before_punct": "<b :" * 30_000, "breaks": "<br" * 40_000}


@pytest.mark.parametrize("name", sorted(HOSTILE_FRAGMENTS))
def test_feed_text_cleaning_is_linear_on_hostile_markup(name: str) -> None:
    from feeds.ingest.sources.rss import MAX_SUMMARY, html_to_text

    assert len(quick(2, lambda: html_to_text(HOSTILE_FRAGMENTS[name]))) <= MAX_SUMMARY


def test_script_and_style_blocks_go_even_unclosed() -> None:
    from feeds.ingest.sources.rss import html_to_text

    assert html_to_text("<p>أ<script>x()</script>ب <STYLE a=1>p{}</style >ج</p> د<script>لا يغلق") == "أ ب ج\nد"


@pytest.mark.parametrize("body", [b"<!ENTITY>" + b"<!DOCTYPE[" * 60_000, b"<!ENTITY" * 60_000,
                                  b'<!DOCTYPE r [<!ENTITY a "b">' + b"] ]" * 60_000])
def test_entity_stripping_is_linear(body: bytes) -> None:
    from feeds.ingest.sources.rss import strip_entity_declarations

    out = quick(2, lambda: strip_entity_declarations(body))
    assert len(out) <= len(body) and b"<!ENTITY a" not in out


def test_a_page_of_unclosed_link_tags_is_linear() -> None:
    page = ("<html><head>" + "<link" * 40_000 + "</head><body><p>نص</p></body></html>").encode()
    art = quick(3, lambda: extract_article(page, {"Content-Type": "text/html; charset=utf-8"},
                                           "https://example.org/a"))
    assert art.url == "https://example.org/a"


def test_many_comments_before_a_feed_do_not_backtrack() -> None:
    """The HTML-page check matched `(<!--.*?-->\\s*)*` and backtracked over every way to split the comments,
    doubling the time per comment: 27 took 15 s, and the 4 KB it reads holds 580."""
    from feeds.errors import Permanent
    from feeds.ingest.sources.rss import parse_feed
    from feeds.models import FeedSource

    body = b"<!---->" * 27 + b"<nonsense/>"

    def refused() -> str:
        with pytest.raises(Permanent) as err:
            parse_feed(body, FeedSource(id="f", url="https://example.org/f", name="f"), "https://example.org/f")
        return err.value.reason

    assert quick(2, refused) == "not a feed: no RSS/Atom/RDF elements"
