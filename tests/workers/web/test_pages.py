"""The console's pages and API over a real archive, served for real: what each shows, filters, escaping."""

from __future__ import annotations

import html
import re

from tests.workers.web.conftest import Served

SINCE = "since=2018-04-01"


def test_stories_list_events_with_their_outlets_and_filters_narrow_them(served: Served) -> None:
    page = served.get(f"/stories?{SINCE}&limit=500")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    stories = {r["story_id"] for r in served.results.values()}
    shown = set(re.findall(r'href="/stories/([^"]+)"', page.text))
    assert shown == stories
    assert 'dir="auto" lang="ar"' in page.text
    syria = served.get(f"/stories?{SINCE}&region=SY&limit=500")
    want = {r["story_id"] for r in served.results.values() if any(
        e["kind"] == "region" and e["entity_id"] == "SY" for e in r["entities"])}
    assert set(re.findall(r'href="/stories/([^"]+)"', syria.text)) == want and 0 < len(want) < len(stories)
    api = served.get(f"/api/stories?{SINCE}&region=SY&limit=500").json()
    assert {s["story_id"] for s in api["stories"]} == want
    multi = [s for s in api["stories"] if s["size"] > 1]
    assert multi and all(len(s["outlet_list"]) == s["outlets"] >= 1 for s in multi)
    assert any(s["outlets"] > 1 for s in multi)  # the fixture holds stories told by several outlets


def test_an_article_page_marks_entities_and_the_evidence(served: Served) -> None:
    key, rec = next((k, r) for k, r in served.results.items() if r["matches"])
    page = served.get(f"/articles/{key}")
    assert page.status_code == 200
    assert '<div class="text" dir="rtl" lang="ar">' in page.text
    assert 'class="m-ev' in page.text or 'm-ev"' in page.text
    assert re.search(r'<mark class="[^"]*m-region', page.text)
    watch = rec["matches"][0]["watch_id"]
    assert f'href="/watches/{watch}/why/{key}"' in page.text
    why = served.get(f"/watches/{watch}/why/{key}")
    assert why.status_code == 200 and "does <a" in why.text and "✓" in why.text
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text.split('<div class="text"', 1)[1].split("</div>", 1)[0]))
    assert text.split(">", 1)[1].strip() == rec["text"].strip()  # the whole text, every character, in order


def test_search_uses_the_watch_language_and_says_why_it_fails(served: Served) -> None:
    ok = served.get("/search", params={"q": "كيماوي* AND region:SY", "since": "2018-04-01"})
    keys = set(re.findall(r'href="/articles/([0-9a-f]+)"', ok.text))
    assert keys == {k for k, r in served.results.items() if any(m["watch_id"] == "chemical" for m in r["matches"])}
    bad = served.get("/search", params={"q": "region:SY AND (", "since": "2018-04-01"})
    assert bad.status_code == 200 and "column" in bad.text and 'class="error"' in bad.text
    api = served.get("/api/search", params={"q": "region:LY", "since": ""}).json()
    assert {h["key"] for h in api["hits"]} == {
        k for k, r in served.results.items() if any(m["watch_id"] == "libya" for m in r["matches"])}


def test_trends_count_stories_per_day(served: Served) -> None:
    data = served.get("/api/trends", params={"kind": "region", "days": "5", "until": "2018-04-11"}).json()
    assert len(data["series"]) == 8 and len(data["days"]) == 5

    def stories_of(region: str) -> int:
        return len({r["story_id"] for r in served.results.values() if any(
            e["kind"] == "region" and e["entity_id"] == region and e["rank"] < 3 for e in r["entities"])})
    totals = [s["total"] for s in data["series"]]
    assert totals == sorted(totals, reverse=True)
    for s in data["series"]:
        assert s["total"] == stories_of(s["id"])
        assert sum(s["counts"]) >= s["total"]  # a story that spans two days counts on each
    assert "SY" in {s["id"] for s in data["series"]}
    watches = served.get("/api/trends", params={"kind": "watch", "days": "5", "until": "2018-04-11"}).json()
    assert {s["id"] for s in watches["series"]} == {"chemical", "libya"} & {
        m["watch_id"] for r in served.results.values() for m in r["matches"]}
    trends = served.get("/trends")
    assert trends.status_code == 200 and ">watches</option>" in trends.text and ">regions</option>" in trends.text
    schema = served.get("/api/openapi.json").json()  # where docs/console.md says, with the query parameters
    assert schema["info"]["title"] == "Marsad"
    assert {"q", "since", "region"} <= {x["name"] for x in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert {"kind", "days"} <= {x["name"] for x in schema["paths"]["/api/trends"]["get"]["parameters"]}


def test_watches_feeds_and_alerts_pages(served: Served) -> None:
    watches = served.get("/watches")
    assert "كيماوي* AND region:SY" in html.unescape(watches.text)
    one = served.get("/watches/chemical", params={"since": ""})
    assert one.status_code == 200 and "/why/" in one.text
    feeds = served.get("/feeds")
    assert feeds.status_code == 200 and "never polled" in feeds.text
    assert served.get("/alerts").status_code == 200
    assert served.get("/watches/nope").status_code == 404
    assert served.get("/articles/0000000000000000").status_code == 404


def test_every_page_sends_the_security_headers(served: Served) -> None:
    for path in ("/stories", "/api/health", "/static/style.css"):
        r = served.get(path)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_bad_parameters_are_said_on_pages_and_in_the_api_and_a_missing_page_is_a_page(served: Served) -> None:
    for path in ("/trends?days=abc", "/trends?kind=bogus", "/api/trends?days=0", "/api/trends?days=-1",
                 "/api/trends?days=" + "9" * 5000, "/stories?place=nosuch", "/api/stories?region=XX"):
        res = served.get(path)
        assert res.status_code == 400, (path, res.status_code)
        text = res.text if not path.startswith("/api/") else res.json()["error"]
        assert ("days: a whole number from 1 to" in text or "kind: one of" in text
                or "unknown id" in text), (path, text)
    missing = served.get("/watches/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "no such watch" in missing.text
    assert served.get("/api/stories/nope").status_code == 404
