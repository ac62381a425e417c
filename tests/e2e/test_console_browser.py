"""The console in a real headless Chromium, served by `marsad web` as users start it, over ~300 archived corpus
articles: the stories page, a region filter, a story, an article with its evidence marked, right-to-left text,
the trends chart; screenshots in the test's tmp folder."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import REPO
from tests.services import browser
from tests.workers.web.conftest import archive_rows, make_runtime

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    redis.Redis.from_url(redis_server.url).flushdb()
    folder = tmp_path_factory.mktemp("browser")
    rt = make_runtime(folder, redis_server.url)
    _, results = archive_rows(rt)
    proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "web", "--config", str(folder / "marsad.yaml"),
                             "--port", "0"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("console "), line
    yield line.split()[-1], results
    proc.terminate()
    proc.wait(20)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = browser.executable()
    if exe is None:
        pytest.skip(browser.MISSING)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=browser.ARGS)
        pg = b.new_page(viewport={"width": 1400, "height": 1000}, locale="ar")
        yield pg
        b.close()


def test_stories_filter_article_evidence_and_rtl(console: tuple[str, dict[str, Any]], page: Any,
                                                 tmp_path: Path) -> None:
    url, results = console
    page.goto(url + "/stories?since=2018-04-01&limit=500")
    stories = {r["story_id"] for r in results.values()}
    assert page.locator("table.stories tbody tr").count() == len(stories)
    page.screenshot(path=str(tmp_path / "stories.png"), full_page=False)

    page.fill("input[name=region]", "SY")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**region=SY**")
    syria = {r["story_id"] for r in results.values()
             if any(e["kind"] == "region" and e["entity_id"] == "SY" for e in r["entities"])}
    assert page.locator("table.stories tbody tr").count() == len(syria) < len(stories)
    titles = page.locator("table.stories td.title")
    assert titles.first.evaluate("e => getComputedStyle(e).direction") == "rtl"  # dir=auto, Arabic text

    key, rec = max(((k, r) for k, r in results.items() if r["matches"] and r["story_id"] in syria),
                   key=lambda kr: kr[1]["at"])
    page.click(f'a[href="/stories/{rec["story_id"]}"]')
    page.click(f'a[href="/articles/{key}"]')
    text = page.locator("div.text")
    assert text.evaluate("e => getComputedStyle(e).direction") == "rtl"
    evidence = page.locator("div.text mark.m-ev, h1 mark.m-ev")
    assert evidence.count() >= 1 and evidence.first.is_visible()
    first = rec["matches"][0]["evidence"]
    assert evidence.first.inner_text().strip() in {t for _, _, t in json.loads(first)}
    box = text.bounding_box()
    right = page.locator("div.text").evaluate(
        "e => { const r = document.createRange(); r.setStart(e.firstChild, 0); r.setEnd(e.firstChild, 1);"
        " return r.getBoundingClientRect().right; }")
    assert box is not None and right > box["x"] + box["width"] * 0.8  # the first letter sits at the right edge
    page.screenshot(path=str(tmp_path / "article.png"), full_page=False)
    assert (tmp_path / "article.png").stat().st_size > 10_000


def test_trends_chart_draws(console: tuple[str, dict[str, Any]], page: Any, tmp_path: Path) -> None:
    url, _ = console
    page.goto(url + "/trends?kind=region&days=5&until=2018-04-11")
    page.wait_for_selector("canvas#trend[data-ready='1']", timeout=15_000)
    assert page.locator("#trend-table tbody tr").count() == 8
    page.screenshot(path=str(tmp_path / "trends.png"))
