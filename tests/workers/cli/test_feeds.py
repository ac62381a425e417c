"""`marsad feeds import/export/add` on real files and a real local HTTP site, through click's runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from feeds.ingest.opml import read_opml
from workers.cli.feeds import feeds
from workers.config.models import FeedsFile

FEEDS_YAML = """# Arabic news feeds (a comment the commands must keep)
feeds:
  - {id: bbc-arabic, url: "https://feeds.bbci.co.uk/arabic/rss.xml", name: "BBC Arabic", interval: 5m}
  - {id: enab-baladi, url: "https://www.enabbaladi.net/feed", name: "عنب بلدي", interval: 10m, fetch_pages: false}
"""

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="news">
    <outline type="rss" text="France 24 Arabic" xmlUrl="https://www.france24.com/ar/rss"/>
    <outline type="rss" text="الجزيرة" xmlUrl="https://www.aljazeera.net/aljazeerarss/a7c186be"/>
  </outline>
  <outline type="rss" text="DW" xmlUrl="https://rss.dw.com/rdf/rss-ar-all"/>
</body></opml>
"""

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>أخبار الموقع</title><link>{base}/</link><description>d</description>
<item><title>خبر أول</title><link>{base}/news/1.html</link><guid>1</guid><description>نص</description></item>
</channel></rss>
"""

HOME = """<!doctype html><html><head><meta charset="utf-8"><title>الموقع</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feeds/all.xml">
</head><body>مرحبا</body></html>
"""


def cli() -> click.Group:
    @click.group()
    def main() -> None:
        pass

    main.add_command(feeds)
    return main


def run(*args: str) -> Result:
    return CliRunner().invoke(cli(), list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without --config the commands read $MARSAD_CONFIG or ./config/marsad.yaml: keep the repo's out of it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARSAD_CONFIG", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "feeds.yaml").write_text(FEEDS_YAML, encoding="utf-8")
    path = tmp_path / "marsad.yaml"
    path.write_text("feeds: feeds.yaml\nfetch: {allow_private_addresses: true, timeout_s: 5}\n", encoding="utf-8")
    return path


def feeds_in(path: Path) -> list[tuple[str, str, str]]:
    parsed = FeedsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    return [(f.id, f.url, f.name) for f in parsed.feeds]


class Site:
    """A local news site: home page advertising its feed, the feed, and a page without any feed link."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                pages = {"/": ("text/html; charset=utf-8", HOME), "/bare": ("text/html", "<html>لا شيء</html>"),
                         "/feeds/all.xml": ("application/rss+xml", RSS.format(base=outer.base))}
                ctype, body = pages.get(self.path, ("text/plain", ""))
                data = body.encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def test_import_adds_opml_feeds_and_keeps_existing_entries_and_comments(config: Path, tmp_path: Path) -> None:
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    res = run("feeds", "import", str(tmp_path / "subs.opml"), "--config", str(config))
    assert res.exit_code == 0, res.output
    assert "imported 3 feeds" in res.output
    text = (tmp_path / "feeds.yaml").read_text(encoding="utf-8")
    assert text.startswith(FEEDS_YAML)  # existing lines untouched, comment included
    got = feeds_in(tmp_path / "feeds.yaml")
    assert [g[1] for g in got] == ["https://feeds.bbci.co.uk/arabic/rss.xml", "https://www.enabbaladi.net/feed",
                                   "https://www.france24.com/ar/rss", "https://www.aljazeera.net/aljazeerarss/a7c186be",
                                   "https://rss.dw.com/rdf/rss-ar-all"]
    assert ("الجزيرة" in [g[2] for g in got]) and len({g[0] for g in got}) == 5


def test_import_refuses_duplicates_and_leaves_the_file_alone(config: Path, tmp_path: Path) -> None:
    opml = OPML.replace("https://rss.dw.com/rdf/rss-ar-all", "HTTPS://WWW.ENABBALADI.NET/feed/")  # same feed
    (tmp_path / "subs.opml").write_text(opml, encoding="utf-8")
    res = CliRunner().invoke(cli(), ["feeds", "import", str(tmp_path / "subs.opml"), "--config", str(config)])
    assert res.exit_code == 1
    assert "already configured as feed 'enab-baladi'" in res.output
    assert (tmp_path / "feeds.yaml").read_text(encoding="utf-8") == FEEDS_YAML

    res = run("feeds", "import", str(tmp_path / "subs.opml"), "--config", str(config), "--skip-existing")
    assert res.exit_code == 0, res.output
    assert "imported 2 feeds" in res.output and "(1 skipped)" in res.output
    assert len(feeds_in(tmp_path / "feeds.yaml")) == 4


def test_import_refuses_an_id_taken_by_another_url(config: Path, tmp_path: Path) -> None:
    opml = OPML.replace('text="DW"', 'text="DW" marsadId="bbc-arabic"')
    (tmp_path / "subs.opml").write_text(opml, encoding="utf-8")
    res = CliRunner().invoke(cli(), ["feeds", "import", str(tmp_path / "subs.opml"), "--config", str(config)])
    assert res.exit_code == 1
    assert "feed id 'bbc-arabic' is already configured" in res.output


def test_export_then_import_round_trips(config: Path, tmp_path: Path) -> None:
    res = run("feeds", "export", "--config", str(config))
    assert res.exit_code == 0, res.output
    exported = read_opml(res.output.encode())
    assert [(f.id, f.url, f.name) for f in exported] == [(i, u, n) for i, u, n in feeds_in(tmp_path / "feeds.yaml")]
    (tmp_path / "out.opml").write_text(res.output, encoding="utf-8")
    fresh = tmp_path / "other" / "feeds.yaml"
    res = run("feeds", "import", str(tmp_path / "out.opml"), "--into", str(fresh))
    assert res.exit_code == 0, res.output
    assert feeds_in(fresh) == feeds_in(tmp_path / "feeds.yaml")

    def settings(path: Path) -> list[tuple[str, int, bool]]:
        parsed = FeedsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        return [(f.id, f.source().interval_s, f.source().fetch_pages) for f in parsed.feeds]
    assert settings(fresh) == settings(tmp_path / "feeds.yaml") == [("bbc-arabic", 300, True),
                                                                   ("enab-baladi", 600, False)]


def test_add_discovers_the_feed_from_the_home_page(config: Path, tmp_path: Path, site: Site) -> None:
    res = run("feeds", "add", site.base + "/", "--config", str(config))
    assert res.exit_code == 0, res.output
    got = feeds_in(tmp_path / "feeds.yaml")
    assert got[-1][1:] == (f"{site.base}/feeds/all.xml", "أخبار الموقع")
    assert got[-1][0] == "127-0-0-1-all"
    assert len(got) == 3

    again = CliRunner().invoke(cli(), ["feeds", "add", site.base + "/", "--config", str(config), "--id", "other"])
    assert again.exit_code == 1
    assert f"{site.base}/feeds/all.xml is already configured as feed '127-0-0-1-all'" in again.output


def test_add_with_explicit_id_and_feed_url(config: Path, tmp_path: Path, site: Site) -> None:
    res = run("feeds", "add", f"{site.base}/feeds/all.xml", "--id", "local-site", "--config", str(config))
    assert res.exit_code == 0, res.output
    assert feeds_in(tmp_path / "feeds.yaml")[-1][:2] == ("local-site", f"{site.base}/feeds/all.xml")
    dup = CliRunner().invoke(cli(), ["feeds", "add", site.base + "/bare", "--id", "bbc-arabic", "--config",
                                     str(config)])
    assert dup.exit_code == 1


def test_add_says_why_when_no_feed_is_found(config: Path, tmp_path: Path, site: Site) -> None:
    res = CliRunner().invoke(cli(), ["feeds", "add", site.base + "/bare", "--config", str(config)])
    assert res.exit_code == 1
    assert "no feed found" in res.output and "advertises no feed" in res.output
    assert (tmp_path / "feeds.yaml").read_text(encoding="utf-8") == FEEDS_YAML


def test_add_uses_the_configured_fetch_policy(config: Path, tmp_path: Path, site: Site) -> None:
    config.write_text("feeds: feeds.yaml\n", encoding="utf-8")  # default: private addresses refused
    res = CliRunner().invoke(cli(), ["feeds", "add", site.base + "/", "--config", str(config)])
    assert res.exit_code == 1
    assert "127.0.0.1" in res.output and "blocked" in res.output.lower()
    assert (tmp_path / "feeds.yaml").read_text(encoding="utf-8") == FEEDS_YAML


def test_add_rejects_a_bad_id_before_fetching(config: Path, site: Site) -> None:
    res = CliRunner().invoke(cli(), ["feeds", "add", site.base + "/", "--id", "Bad Id", "--config", str(config)])
    assert res.exit_code == 1
    assert "--id 'Bad Id'" in res.output


def test_append_to_a_flow_style_empty_list_keeps_the_comments(config: Path, tmp_path: Path, site: Site) -> None:
    (tmp_path / "feeds.yaml").write_text("# my feeds\n# keep this\nfeeds: []   # inline\n", encoding="utf-8")
    res = run("feeds", "add", site.base + "/", "--config", str(config))
    assert res.exit_code == 0, res.output
    assert feeds_in(tmp_path / "feeds.yaml") == [("127-0-0-1-all", f"{site.base}/feeds/all.xml", "أخبار الموقع")]
    text = (tmp_path / "feeds.yaml").read_text(encoding="utf-8")
    assert text.startswith("# my feeds\n# keep this\nfeeds:   # inline\n")


def test_without_options_the_default_config_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "marsad.yaml").write_text("feeds: [feeds.yaml, more/]\n", encoding="utf-8")
    (tmp_path / "config" / "feeds.yaml").write_text(FEEDS_YAML, encoding="utf-8")
    (tmp_path / "config" / "more").mkdir()
    (tmp_path / "config" / "more" / "x.yaml").write_text(
        'feeds:\n  - {id: extra, url: "https://example.org/rss"}\n', encoding="utf-8")
    res = run("feeds", "export")
    assert res.exit_code == 0, res.output
    assert [f.id for f in read_opml(res.output.encode())] == ["bbc-arabic", "enab-baladi", "extra"]
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    assert run("feeds", "import", "subs.opml").exit_code == 0
    assert len(feeds_in(tmp_path / "config" / "feeds.yaml")) == 5  # the first feeds file takes new feeds


def test_import_names_every_bad_outline_and_warns_of_addresses_the_fetcher_refuses(config: Path,
                                                                                  tmp_path: Path) -> None:
    config.write_text("feeds: feeds.yaml\n", encoding="utf-8")  # default: private addresses refused
    bad = OPML.replace("https://rss.dw.com/rdf/rss-ar-all", "ftp://x/rss").replace(
        "https://www.france24.com/ar/rss", "javascript:alert(1)")
    (tmp_path / "bad.opml").write_text(bad, encoding="utf-8")
    res = CliRunner().invoke(cli(), ["feeds", "import", str(tmp_path / "bad.opml"), "--config", str(config)])
    assert res.exit_code == 1 and "'DW'" in res.output and "'France 24 Arabic'" in res.output, res.output
    assert (tmp_path / "feeds.yaml").read_text(encoding="utf-8") == FEEDS_YAML
    private = OPML.replace("https://rss.dw.com/rdf/rss-ar-all", "http://192.168.1.10/rss")
    (tmp_path / "private.opml").write_text(private, encoding="utf-8")
    res = CliRunner().invoke(cli(), ["feeds", "import", str(tmp_path / "private.opml"), "--config", str(config)])
    assert res.exit_code == 0 and "imported 3 feeds" in res.stdout
    assert res.stderr.splitlines() == ["warning: feed 192-168-1-10: blocked: private address 192.168.1.10 (allowed "
                                       "only with fetch.allow_private_addresses: true in marsad.yaml); its polls "
                                       "will fail"]


def test_a_feed_filed_twice_in_the_opml_is_imported_once_and_said(config: Path, tmp_path: Path) -> None:
    twice = '<outline text="Again" xmlUrl="https://www.france24.com/ar/rss"/>'
    (tmp_path / "subs.opml").write_text(OPML.replace("</body>", twice + "</body>"), encoding="utf-8")
    res = CliRunner().invoke(cli(), ["feeds", "import", str(tmp_path / "subs.opml"), "--config", str(config)])
    assert res.exit_code == 0, res.output
    assert "skipped: outline 'Again': https://www.france24.com/ar/rss is listed earlier in the file" in res.output
    assert "(1 skipped)" in res.output
    assert [g[1] for g in feeds_in(tmp_path / "feeds.yaml")].count("https://www.france24.com/ar/rss") == 1


def test_a_large_opml_imports_in_linear_time(config: Path, tmp_path: Path) -> None:
    # every outline was checked against a map of all feeds rebuilt for it: 4,000 outlines took 39 s, about 2 now
    outlines = "".join(f'<outline text="t{i}" xmlUrl="https://e{i}.example.org/feed"/>' for i in range(4000))
    (tmp_path / "big.opml").write_text(f'<opml version="2.0"><body>{outlines}</body></opml>', encoding="utf-8")
    t0 = time.monotonic()
    res = run("feeds", "import", str(tmp_path / "big.opml"), "--config", str(config))
    assert time.monotonic() - t0 < 15
    assert res.exit_code == 0 and "imported 4000 feeds" in res.output
    assert len(feeds_in(tmp_path / "feeds.yaml")) == 4002
