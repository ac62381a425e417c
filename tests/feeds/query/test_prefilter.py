"""The full-text prefilter of a query: a superset of what the evaluator matches (never a miss), in both
databases' syntaxes, with quoting that keeps query text out of the syntax."""

from __future__ import annotations

from feeds.models import Article, Classification, Mention
from feeds.query import prefilter
from feeds.query.syntax import parse_query


def f(q: str) -> prefilter.Formula:
    return prefilter.formula(parse_query(q))


def test_formulas() -> None:
    assert prefilter.to_fts5(f("إدلب OR place:idlib")) == '("ادلب" OR "zzp69646c6962")'
    assert prefilter.to_tsquery(f("إدلب AND ترامب*")) == "('ادلب' & 'ترامب':*)"
    assert f("NOT إدلب") is None
    assert f("إدلب OR NOT ترامب") is None  # one side can hold anywhere
    assert f("إدلب AND NOT ترامب") == prefilter.All((prefilter.Tok("ادلب"),), (prefilter.Tok("ترامب"),))
    assert prefilter.to_fts5(f("إدلب AND NOT region:US")) == '(("ادلب") NOT ("zzr7573"))'
    assert prefilter.to_tsquery(f("إدلب AND NOT region:US")) == "(('ادلب') & !('zzr7573'))"
    # Not a phrase (its words may be there apart), not under NEAR, not alone, not under OR.
    assert f('إدلب AND NOT "وقف النار"') == prefilter.Tok("ادلب")
    assert f("إدلب NEAR/5 NOT ترامب") == prefilter.Tok("ادلب")
    assert f("NOT ترامب") is None
    assert f("إدلب OR NOT ترامب") is None
    assert f("lead:(إدلب AND NOT ترامب)") == prefilter.Tok("ادلب")  # absent from the lead, maybe not the body
    assert f("title:(إدلب OR region:SY)") == prefilter.Some((prefilter.Tok("ztادلب"), prefilter.Tok("ztzzr7379")))
    assert prefilter.to_fts5(f('"وقف إطلاق النار"')) == '("وقف" AND ("اطلاق" OR "الاطلاق") AND ("نار" OR "النار"))'


def test_quoting_keeps_query_text_out_of_the_syntax() -> None:
    tok = prefilter.All((prefilter.Tok('a"b'), prefilter.Tok("c'd\\")))
    assert prefilter.to_fts5(tok) == '("a""b" AND "c\'d\\")'
    assert prefilter.to_tsquery(tok) == "('a\"b' & 'c''d\\\\')"


def test_index_tokens_hold_every_key_the_evaluator_looks_up() -> None:
    a = Article(url="u", title="بإدلب", text="وللعراق")
    c = Classification(mentions=(Mention("place", "idlib", 1, 5, "إدلب"),))
    toks = set(prefilter.index_tokens(a, c).split())
    assert {"بادلب", "ادلب", "وللعراق", "العراق", prefilter.entity_token("place", "idlib")} <= toks
    # The title's, again with the mark: the place is in the title, العراق is not.
    mark = prefilter.TITLE_MARK
    assert {mark + "ادلب", mark + prefilter.entity_token("place", "idlib")} <= toks
    assert mark + "العراق" not in toks


def test_index_tokens_are_bounded() -> None:
    a = Article(url="u", title="", text=" ".join(f"كلمة{i}" for i in range(50_000)) + " " + "ب" * 10_000)
    toks = prefilter.index_tokens(a, Classification()).split()
    assert len(toks) <= prefilter.MAX_INDEX_TOKENS + 1
    assert max(len(t) for t in toks) <= prefilter.MAX_TOKEN_CHARS
    assert prefilter.CAPPED in toks  # what the caps cut is found through the mark (test_search)
    assert prefilter.CAPPED not in prefilter.index_tokens(Article(url="u", title="t", text="نص"),
                                                          Classification()).split()
