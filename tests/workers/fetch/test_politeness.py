"""Per-host politeness through real Redis and a real local HTTP server: cap, gap, expiry, robots.txt."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from feeds.errors import HostBusy, Permanent, Transient
from feeds.ingest.http import FetchPolicy, FetchResult, fetch
from feeds.models import Entry, FeedSource
from feeds.pipeline import load_article
from workers.daemon.embedded import EmbeddedRedis
from workers.fetch.politeness import HostLimiter, polite
from workers.fetch.robots import RobotsCache, page_fetcher, robots_checked

POLICY = FetchPolicy(timeout_s=5, allow_private_addresses=True, user_agent="Marsad/0.1 (+test)")
FETCH: Callable[..., FetchResult] = partial(fetch, policy=POLICY)


class Server:
    """A threaded HTTP server on `ip` that measures what politeness is about: requests in flight, start times.

    `routes`: path → (status, body); unknown paths answer 200 "ok". `delay_s`: how long each answer takes.
    """

    def __init__(self, ip: str = "127.0.0.1", routes: dict[str, tuple[int, bytes]] | None = None,
                 delay_s: float = 0.0) -> None:
        self.routes = routes or {}
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer.lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                    outer.starts.append(time.monotonic())
                    outer.paths.append(self.path)
                try:
                    time.sleep(outer.delay_s)
                    status, body = outer.routes.get(self.path, (200, b"ok"))
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((ip, 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{ip}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def count(self, path: str) -> int:
        return self.paths.count(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server(delay_s=0.2)
    yield s
    s.close()


def _run_all(fn: Callable[[str], Any], urls: list[str], threads: int) -> list[Any]:
    def one(url: str) -> Any:
        try:
            return fn(url)
        except Exception as e:  # collected, so the test can say which failed
            return e

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, urls))


def test_never_more_than_k_requests_in_flight_per_host(redis_client: redis.Redis, redis_server: EmbeddedRedis,
                                                       server: Server) -> None:
    # Two "workers": separate limiters on separate connections share the budget only through Redis.
    other = redis.Redis.from_url(redis_server.url)
    gets = [polite(FETCH, c, "feed", max_concurrent=2, min_gap_s=0, max_wait_s=5) for c in (redis_client, other)]
    results = _run_all(lambda u: gets[int(u[-1]) % 2](u), [f"{server.base}/f{i}" for i in range(8)], threads=8)
    other.close()
    assert all(isinstance(r, FetchResult) for r in results), results
    assert server.max_in_flight == 2  # the cap was reached, and never passed
    assert redis_client.zcard("marsad:polite:{feed:127.0.0.1}:holders") == 0  # every slot given back


def test_without_the_wrapper_the_same_load_exceeds_the_cap(server: Server) -> None:
    # The control for the test above: it measures something the wrapper changes.
    _run_all(FETCH, [f"{server.base}/f{i}" for i in range(8)], threads=8)
    assert server.max_in_flight > 2


def test_request_starts_are_at_least_the_gap_apart(redis_client: redis.Redis) -> None:
    srv = Server(delay_s=0.0)
    try:
        gap = 0.3
        get = polite(FETCH, redis_client, "page", max_concurrent=4, min_gap_s=gap, max_wait_s=5)
        t0 = time.monotonic()
        results = _run_all(get, [f"{srv.base}/p{i}" for i in range(4)], threads=4)
        assert all(isinstance(r, FetchResult) for r in results), results
        starts = sorted(srv.starts)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        # Reserved starts are exactly `gap` apart in Redis time; the server sees them through connect
        # latency, so allow a little jitter on each gap but none on the total.
        assert min(gaps) > gap * 0.8, gaps
        assert time.monotonic() - t0 >= 3 * gap
    finally:
        srv.close()


def test_different_hosts_do_not_wait_for_each_other(redis_client: redis.Redis) -> None:
    a, b = Server("127.0.0.1", delay_s=0.3), Server("127.0.0.2", delay_s=0.3)
    try:
        get = polite(FETCH, redis_client, "feed", max_concurrent=1, min_gap_s=0, max_wait_s=5)
        t0 = time.monotonic()
        results = _run_all(get, [f"{a.base}/x", f"{b.base}/x"], threads=2)
        elapsed = time.monotonic() - t0
        assert all(isinstance(r, FetchResult) for r in results), results
        assert elapsed < 0.55  # in parallel (~0.3 s); one after the other would take ≥ 0.6 s
    finally:
        a.close()
        b.close()


def test_feed_and_page_fetches_have_separate_budgets(redis_client: redis.Redis) -> None:
    feed = HostLimiter(redis_client, "feed", max_concurrent=1, min_gap_s=0, max_wait_s=0.2)
    page = HostLimiter(redis_client, "page", max_concurrent=1, min_gap_s=0, max_wait_s=0.2)
    feed.acquire("http://example.org/rss")
    page.acquire("http://example.org/article")  # not blocked by the feed fetch in flight
    with pytest.raises(HostBusy):
        feed.acquire("http://example.org/other.rss")


def test_busy_host_raises_transient_within_the_bounded_wait(redis_client: redis.Redis) -> None:
    srv = Server(delay_s=1.0)
    try:
        get = polite(FETCH, redis_client, "feed", max_concurrent=1, min_gap_s=0, max_wait_s=0.3)
        started = threading.Event()

        def slow() -> Any:
            started.set()
            return get(f"{srv.base}/slow")

        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(slow)
            started.wait()
            time.sleep(0.1)  # the first request holds the only slot
            t0 = time.monotonic()
            with pytest.raises(Transient, match="politeness: host busy"):
                get(f"{srv.base}/second")
            waited = time.monotonic() - t0
            assert isinstance(first.result(), FetchResult)
        assert 0.25 <= waited < 0.8
        assert srv.count("/second") == 0
    finally:
        srv.close()


def test_a_gap_that_cannot_be_met_in_time_fails_at_once(redis_client: redis.Redis) -> None:
    lim = HostLimiter(redis_client, "feed", max_concurrent=5, min_gap_s=10, max_wait_s=1)
    lim.acquire("http://example.org/a")
    t0 = time.monotonic()
    with pytest.raises(HostBusy) as info:
        lim.acquire("http://example.org/b")
    assert time.monotonic() - t0 < 0.5  # no point sleeping: the next start is 10 s away
    assert info.value.retry_after is not None and info.value.retry_after > 5


def test_slot_is_released_when_the_fetch_fails(redis_client: redis.Redis, server: Server) -> None:
    server.routes["/gone"] = (404, b"")
    get = polite(FETCH, redis_client, "page", max_concurrent=1, min_gap_s=0, max_wait_s=0.2)
    for _ in range(3):  # with a leaked slot the second call would raise HostBusy
        with pytest.raises(Permanent, match="HTTP 404"):
            get(f"{server.base}/gone")
    assert redis_client.zcard("marsad:polite:{page:127.0.0.1}:holders") == 0


def test_crashed_holders_slot_expires_by_itself(redis_client: redis.Redis) -> None:
    crashed = HostLimiter(redis_client, "feed", max_concurrent=1, min_gap_s=0, max_wait_s=0, hold_s=0.5)
    crashed.acquire("http://example.org/a")  # never released: the worker died mid-request
    other = HostLimiter(redis_client, "feed", max_concurrent=1, min_gap_s=0, max_wait_s=0.1, hold_s=0.5)
    with pytest.raises(HostBusy):
        other.acquire("http://example.org/b")
    patient = HostLimiter(redis_client, "feed", max_concurrent=1, min_gap_s=0, max_wait_s=2, hold_s=0.5)
    t0 = time.monotonic()
    patient.acquire("http://example.org/c")
    assert 0.2 < time.monotonic() - t0 < 1.0


# --- robots.txt -------------------------------------------------------------------------------------------

ROBOTS = b"User-agent: *\nDisallow: /private/\n\nUser-agent: Marsad\nDisallow: /no-marsad/\n"


def test_robots_rules_allow_and_deny(redis_client: redis.Redis, server: Server) -> None:
    server.routes["/robots.txt"] = (200, ROBOTS)
    robots = RobotsCache(redis_client, FETCH, POLICY.user_agent)
    assert robots.allowed(f"{server.base}/news/1.html")
    assert not robots.allowed(f"{server.base}/no-marsad/1.html")  # our own User-agent group applies
    get = robots_checked(FETCH, robots)
    with pytest.raises(Permanent, match=r"blocked by robots\.txt"):
        get(f"{server.base}/no-marsad/2.html")
    assert isinstance(get(f"{server.base}/private/ok-for-marsad.html"), FetchResult)  # "*" is not for us
    assert server.count("/no-marsad/2.html") == 0  # the disallowed page was never requested


def test_robots_wildcards_and_the_longest_rule_win(redis_client: redis.Redis, server: Server) -> None:
    """Google's reading (RFC 9309): `*` and `$` in paths, and the longest matching rule decides."""
    server.routes["/robots.txt"] = (200, b"User-agent: *\nDisallow: /*.pdf$\nDisallow: /news/\n"
                                         b"Allow: /news/public/\n")
    robots = RobotsCache(redis_client, FETCH, POLICY.user_agent)
    assert not robots.allowed(f"{server.base}/files/report.pdf")
    assert robots.allowed(f"{server.base}/files/report.pdf.html")  # `$` anchors the end
    assert not robots.allowed(f"{server.base}/news/2018/1.html")
    assert robots.allowed(f"{server.base}/news/public/1.html")  # the longer Allow beats the Disallow


def test_robots_fetched_once_for_many_pages_and_workers(redis_client: redis.Redis, server: Server) -> None:
    server.routes["/robots.txt"] = (200, ROBOTS)
    workers = [RobotsCache(redis_client, FETCH, POLICY.user_agent) for _ in range(3)]  # three processes
    urls = [f"{server.base}/news/{i}.html" for i in range(12)]
    results = _run_all(lambda u: workers[hash(u) % 3].allowed(u), urls, threads=6)
    assert results == [True] * 12
    assert server.count("/robots.txt") == 1
    assert 0 < redis_client.ttl(f"marsad:robots:{server.base}") <= 86400


@pytest.mark.parametrize("status", [404, 410, 403])
def test_robots_4xx_allows_everything(redis_client: redis.Redis, server: Server, status: int) -> None:
    server.routes["/robots.txt"] = (status, b"User-agent: *\nDisallow: /\n")
    robots = RobotsCache(redis_client, FETCH, POLICY.user_agent)
    assert robots.allowed(f"{server.base}/anything")
    assert robots.allowed(f"{server.base}/else")
    assert server.count("/robots.txt") == 1


def test_robots_5xx_is_temporarily_disallowed_and_remembered(redis_client: redis.Redis, server: Server) -> None:
    server.routes["/robots.txt"] = (500, b"")
    robots = RobotsCache(redis_client, FETCH, POLICY.user_agent, local_ttl_s=0)
    get = robots_checked(FETCH, robots)
    for _ in range(3):
        with pytest.raises(Transient, match=r"robots\.txt unreachable: HTTP 500"):
            get(f"{server.base}/news/1.html")
    assert server.count("/robots.txt") == 1  # remembered for a while, not asked once per page
    assert server.count("/news/1.html") == 0
    assert 0 < redis_client.ttl(f"marsad:robots:{server.base}") <= 300


def test_unreachable_robots_is_transient(redis_client: redis.Redis) -> None:
    dead = Server()
    base = dead.base
    dead.close()  # nothing listens on that port any more
    with pytest.raises(Transient, match=r"robots\.txt unreachable: connection failed"):
        RobotsCache(redis_client, FETCH, POLICY.user_agent).allowed(f"{base}/a.html")


def test_ignore_robots_feed_fetches_disallowed_pages(redis_client: redis.Redis, server: Server) -> None:
    server.routes["/robots.txt"] = (200, b"User-agent: *\nDisallow: /\n")
    robots = RobotsCache(redis_client, FETCH, POLICY.user_agent)
    strict = FeedSource(id="a", url=f"{server.base}/rss", name="A")
    lax = FeedSource(id="b", url=f"{server.base}/rss", name="B", ignore_robots=True)
    with pytest.raises(Permanent, match="robots"):
        page_fetcher(FETCH, robots, strict)(f"{server.base}/news/1.html")
    assert page_fetcher(FETCH, robots, lax)(f"{server.base}/news/1.html").body == b"ok"


def test_blocked_page_falls_back_to_the_description_with_the_reason(redis_client: redis.Redis,
                                                                   server: Server) -> None:
    server.routes["/robots.txt"] = (200, b"User-agent: *\nDisallow: /news/\n")
    robots = RobotsCache(redis_client, FETCH, POLICY.user_agent)
    feed = FeedSource(id="a", url=f"{server.base}/rss", name="A")
    entry = Entry(feed_id="a", url=f"{server.base}/news/1.html", guid="1", title="عنوان", summary="ملخص الخبر")
    article = load_article(entry, feed, page_fetcher(FETCH, robots, feed))
    assert article.source == "feed_description"
    assert "blocked by robots.txt" in article.note


def test_page_fetch_chain_robots_then_politeness(redis_client: redis.Redis, server: Server) -> None:
    # The order the runtime uses: robots.txt itself is fetched politely, then each allowed page.
    server.routes["/robots.txt"] = (200, ROBOTS)
    polite_page = polite(FETCH, redis_client, "page", max_concurrent=1, min_gap_s=0, max_wait_s=5)
    robots = RobotsCache(redis_client, polite_page, POLICY.user_agent)
    feed = FeedSource(id="a", url=f"{server.base}/rss", name="A")
    get = page_fetcher(polite_page, robots, feed)
    results = _run_all(get, [f"{server.base}/news/{i}.html" for i in range(4)], threads=4)
    assert all(isinstance(r, FetchResult) for r in results), results
    assert server.max_in_flight == 1
    assert server.count("/robots.txt") == 1
