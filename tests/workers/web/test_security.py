"""Who may use the console and what it lets through: loopback only without credentials, Basic authentication
or a trusted proxy's header otherwise, no DNS rebinding, no cross-site posts, every untrusted text escaped."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from feeds.errors import InvalidInput
from feeds.models import Alert, Article
from tests.harness import write_config
from tests.workers.web.conftest import WATCHES, make_runtime, serve
from workers.archive import queries
from workers.archive.records import alert_record, article_record
from workers.config.load import load_settings

AUTH = "web: {host: 127.0.0.1, port: 0, user: analyst, password: 's3cret pass'}\n"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_a_public_address_without_credentials_is_refused(tmp_path: Path, redis_server: Any) -> None:
    path = write_config(tmp_path, redis_server.url, {}, WATCHES, extra="web: {host: 0.0.0.0}\n")
    with pytest.raises(InvalidInput, match=r"web\.host: the console on 0\.0\.0\.0 would be open"):
        load_settings(str(path))
    path = write_config(tmp_path, redis_server.url, {}, WATCHES, extra="web: {host: 0.0.0.0, user: a}\n")
    with pytest.raises(InvalidInput, match="user and password go together"):
        load_settings(str(path))


FEED = {"skynews": "http://127.0.0.1:9/a.xml"}


@pytest.mark.parametrize("host", ["127.0.0.1.example.org", "127.evil", "::", "10.0.0.1"])
def test_a_host_that_is_not_a_loopback_address_needs_credentials(tmp_path: Path, redis_server: Any,
                                                                 host: str) -> None:
    # a name that starts like a loopback address resolves wherever its owner likes (0.0.0.0 included)
    path = write_config(tmp_path, redis_server.url, FEED, WATCHES, extra=f"web: {{host: '{host}'}}\n")
    with pytest.raises(InvalidInput, match=r"web\.host: the console on .* would be open") as err:
        load_settings(str(path))
    assert len(err.value.reason.splitlines()) == 1  # that, and nothing else


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_need_no_credentials(tmp_path: Path, redis_server: Any, host: str) -> None:
    path = write_config(tmp_path, redis_server.url, FEED, WATCHES, extra=f"web: {{host: '{host}'}}\n")
    assert load_settings(str(path)).web.loopback


def test_basic_authentication(tmp_path: Path, redis_server: Any) -> None:
    rt = make_runtime(tmp_path, redis_server.url, AUTH)
    for url in serve(rt):
        assert requests.get(url + "/stories", timeout=10).status_code == 401
        assert requests.get(url + "/static/style.css", timeout=10).status_code == 401
        assert requests.get(url + "/api/health", headers=basic("analyst", "wrong"), timeout=10).status_code == 401
        ok = requests.get(url + "/api/health", headers=basic("analyst", "s3cret pass"), timeout=10)
        assert ok.status_code == 200 and ok.json()["ok"] is True
        bad = requests.get(url + "/api/health", headers={"Authorization": "Basic ###"}, timeout=10)
        assert bad.status_code == 401


def test_proxy_header_only_from_a_trusted_proxy(tmp_path: Path, redis_server: Any) -> None:
    web = "web: {host: 127.0.0.1, port: 0, proxy_user_header: X-Remote-User, trusted_proxies: [%s]}\n"
    rt = make_runtime(tmp_path, redis_server.url, web % "127.0.0.1")
    for url in serve(rt):
        assert requests.get(url + "/api/health", timeout=10).status_code == 401
        assert requests.get(url + "/api/health", headers={"X-Remote-User": "amal"},
                            timeout=10).status_code == 200
    rt = make_runtime(tmp_path, redis_server.url, web % "10.0.0.1")
    for url in serve(rt):
        assert requests.get(url + "/api/health", headers={"X-Remote-User": "amal"}, timeout=10).status_code == 401


def test_without_credentials_only_a_loopback_host_and_no_cross_site_posts(tmp_path: Path, redis_server: Any) -> None:
    rt = make_runtime(tmp_path, redis_server.url)
    for url in serve(rt):
        assert requests.get(url + "/stories", headers={"Host": "evil.example:80"}, timeout=10).status_code == 421
        assert requests.get(url + "/stories", headers={"Host": "localhost"}, timeout=10).status_code == 200
        # a name that merely starts like a loopback address can resolve anywhere, and be rebound to 127.0.0.1
        assert requests.get(url + "/stories", headers={"Host": "127.evil.example"}, timeout=10).status_code == 421
        assert requests.get(url + "/stories", headers={"Host": "127.0.0.2:8470"}, timeout=10).status_code == 200
        cross = requests.post(url + "/alerts/retry-failed", headers={"Origin": "https://evil.example"},
                              timeout=10, allow_redirects=False)
        assert cross.status_code == 403
        sec = requests.post(url + "/alerts/retry-failed", headers={"Sec-Fetch-Site": "cross-site"},
                            timeout=10, allow_redirects=False)
        assert sec.status_code == 403
        referer = requests.post(url + "/alerts/retry-failed", headers={"Referer": "http://evil.example/x"},
                                timeout=10, allow_redirects=False)
        assert referer.status_code == 403  # an older browser sends only Referer
        own = requests.post(url + "/alerts/retry-failed", headers={"Referer": url + "/alerts"},
                            timeout=10, allow_redirects=False)
        assert own.status_code == 303  # the console's own page


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_untrusted_text_is_escaped_everywhere(tmp_path: Path, redis_server: Any) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    rt = make_runtime(tmp_path, redis_server.url)
    a = Article(url="javascript:alert(3)", title=HOSTILE + " ليبيا", text="ليبيا " + HOSTILE, feed_id="skynews")
    c = rt.classifier.classify(a)
    matches = tuple(rt.settings.watchset.match(a, c))
    assert matches  # the libya watch: its evidence is marked on the page too
    rec = article_record("feedfacefeedface", a, "<b>feed</b>", "new", "story<1>", c, matches, fetched=1523400000.0)
    rt.archive().write_articles([rec])
    alert = Alert(watch_id="libya", watch_name="L", severity="low", story_id="story<1>", url=a.url, title=HOSTILE,
                  feed_id="skynews", feed_name="S", published=None)
    rt.archive().write_alert(alert_record(alert, "console", "dead_letter", HOSTILE))
    for url in serve(rt):
        for path in ("/articles/feedfacefeedface", "/stories?since=", "/alerts", "/search?q=ليبيا&since=",
                     "/watches/libya?since=", "/watches/libya/why/feedfacefeedface", "/trends"):
            body = requests.get(url + path, timeout=10).text
            assert "<script>alert" not in body and "<img src=x" not in body, path
            assert 'href="javascript:' not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in requests.get(url + "/articles/feedfacefeedface",
                                                                       timeout=10).text


def test_retry_sends_a_failed_alert_back_to_the_queue(tmp_path: Path, redis_server: Any) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    rt = make_runtime(tmp_path, redis_server.url)
    alert = Alert(watch_id="libya", watch_name="L", severity="low", story_id="s9", url="https://x.example/9",
                  title="t", feed_id="skynews", feed_name="S", published=None)
    rt.archive().write_alert(alert_record(alert, "console", "dead_letter", "gave up"))
    rt.dead.add("alert", {"alert": alert.to_dict(), "sink": "console"}, "gave up")
    for url in serve(rt):
        page = requests.get(url + "/alerts?status=dead_letter", timeout=10).text
        [key] = re.findall(r'action="/alerts/([0-9a-f]{32})/retry"', page)
        r = requests.post(url + f"/alerts/{key}/retry", timeout=10, allow_redirects=False)
        assert r.status_code == 303 and client.llen("alert") == 1
        r = requests.post(url + "/alerts/retry-failed", timeout=10, allow_redirects=False)
        assert r.status_code == 303 and client.llen("alert") == 2 and rt.dead.all() == []
    message = json.loads(client.lpop("alert") or b"{}")
    assert message["headers"]["task"] == "marsad.send_alert"  # a real Celery message, for the worker to send


def test_retry_is_refused_while_the_alerts_own_retry_chain_is_alive(tmp_path: Path, redis_server: Any) -> None:
    from workers.web.pages import STALE_RETRY_S

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    rt = make_runtime(tmp_path, redis_server.url)
    now = 1523491200.0  # the served console's clock
    for story, status, at in (("live", "retry", now - 10), ("quiet", "retry", now - STALE_RETRY_S - 60),
                              ("done", "sent", now - 10)):
        alert = Alert(watch_id="libya", watch_name="L", severity="low", story_id=story, url=f"https://x.example/{story}",
                      title=story, feed_id="skynews", feed_name="S", published=None)
        rt.archive().write_alert(alert_record(alert, "console", status, "", now=at))
    keys = {r["story_id"]: r["key"] for r in queries.alert_rows(rt.archive())}
    for url in serve(rt):
        page = requests.get(url + "/alerts", timeout=10).text
        assert set(re.findall(r'action="/alerts/([0-9a-f]{32})/retry"', page)) == {keys["quiet"]}
        for story in ("live", "done"):  # a hand-made POST is refused too: no second chain beside a live one
            r = requests.post(url + f"/alerts/{keys[story]}/retry", timeout=10, allow_redirects=False)
            assert r.status_code == 409, story
        assert client.llen("alert") == 0
        r = requests.post(url + f"/alerts/{keys['quiet']}/retry", timeout=10, allow_redirects=False)
        assert r.status_code == 303 and client.llen("alert") == 1
