"""Test harness with real parts: HTTP feed/page server, webhook receiver, SMTP mailbox, worker subprocesses."""

from __future__ import annotations

import functools
import html
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import redis
from aiosmtpd.controller import Controller

from workers.daemon.embedded import free_port

REPO = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"

Route = Callable[[str], "tuple[int, str, bytes] | None"]


class HTTPServer:
    """A threaded HTTP server on 127.0.0.1: GETs answered from `routes`, POST bodies recorded.

    `gets` keeps every GET path, `get_times` (path, monotonic time) for rate checks. `delay(path)` returns
    seconds to wait before answering a GET (a slow page, so a kill can land mid-task). POSTs are answered
    200 after `post_hold(n)` seconds (n = index of the POST); a POST whose client went away during the hold is
    recorded in `aborted`, not in `posts`: from the sender's side that delivery never completed.
    """

    def __init__(self, routes: Route, delay: Callable[[str], float] | None = None,
                 post_hold: Callable[[int], float] | None = None) -> None:
        self.routes = routes
        self.delay = delay or (lambda p: 0.0)
        self.post_hold = post_hold or (lambda n: 0.0)
        self.posts: list[bytes] = []
        self.post_times: list[float] = []
        self.aborted: list[bytes] = []
        self.gets: list[str] = []
        self.get_times: list[tuple[str, float]] = []
        self.in_flight: dict[int, str] = {}  # client port → path, while a request is being answered
        self._n_posts = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with outer._lock:
                    outer.gets.append(self.path)
                    outer.get_times.append((self.path, time.monotonic()))
                port = self.client_address[1]
                outer.in_flight[port] = self.path
                try:
                    wait = outer.delay(self.path)
                    if wait:
                        time.sleep(wait)
                    hit = outer.routes(self.path)
                    status, ctype, body = hit if hit else (404, "text/plain", b"not found")
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client was killed mid-request: that is what some tests do
                finally:
                    outer.in_flight.pop(port, None)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer._lock:
                    n = outer._n_posts
                    outer._n_posts += 1
                port = self.client_address[1]
                outer.in_flight[port] = self.path
                try:
                    if not outer._hold(self.connection, outer.post_hold(n)):
                        with outer._lock:
                            outer.aborted.append(body)
                        self.close_connection = True
                        return
                    with outer._lock:
                        outer.posts.append(body)
                        outer.post_times.append(time.monotonic())
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass
                finally:
                    outer.in_flight.pop(port, None)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def _hold(conn: socket.socket, seconds: float) -> bool:
        """Wait `seconds`; False as soon as the client closes its end (killed mid-send)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([conn], [], [], 0.05)
            if ready:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
        return True

    def count(self, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for p in self.gets if p.split("?")[0].startswith(path_prefix))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Mailbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        yield box, ctl.port
    finally:
        ctl.stop()


# ---------------------------------------------------------------- synthetic articles and feeds

@dataclass(frozen=True)
class Item:
    """One article of the replayed news: its page lives at /news/<key>.html."""

    key: str
    feed: str
    title: str
    text: str
    published: datetime

    def path(self) -> str:
        return f"/news/{self.key}.html"


@functools.lru_cache(maxsize=1)
def vocabulary() -> list[str]:
    """Arabic words of the seed article (a real news text), the raw material of synthetic articles; not its
    names of places, people and bodies, which would make every draw a report of the seed's own event."""
    from feeds.models import Article
    from feeds.nlp.classify import Classifier
    from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer

    text = (FIXTURES / "seed" / "000_ac810ad0bcec6acb.txt").read_text(encoding="utf-8")
    words = sorted({w for w in re.findall(r"[\u0621-\u064a]{3,}", text)})
    clf = Classifier(load_gazetteer(default_gazetteer_paths()))
    return [w for w in words if not clf.classify(Article(url="", title="", text=w)).mentions]


_LETTERS = "بتثجحخدذرسشصضطظعغفقكلمنهي"


def make_items(n: int, feeds: Sequence[str], markers: Sequence[str], *, seed: int = 1, words: int = 90,
               start: datetime | None = None, prefix: str = "a") -> list[Item]:
    """n distinct articles (random word draws: no two are near-duplicates), round-robin over feeds.

    Item i carries markers[i % len(markers)] (a watch's query word) in title and text, and is published one
    second after item i-1, so "order of arrival" is the item index. Each also names its own made-up people
    and place (random letters): the draws all come from one article's words, so without names of their own
    they would read as reports of one event (its people, places and words) and the event stage would fold
    them into one story, as it should.
    """
    rng = random.Random(seed)
    vocab = [w for w in vocabulary() if all(m not in w for m in markers)]
    t0 = (start or datetime.now(UTC)).replace(microsecond=0)
    out = []
    for i in range(n):
        marker = markers[i % len(markers)] if markers else ""
        names = ["".join(rng.choices(_LETTERS, k=rng.randint(5, 7))) for _ in range(3)]
        body = rng.choices(vocab, k=words)
        for name in names * 2:
            body.insert(rng.randrange(len(body)), name)
        body.insert(rng.randrange(len(body)), marker)
        title = " ".join([*rng.choices(vocab, k=4), *names[:2], marker]).strip()
        out.append(Item(f"{prefix}{i:05d}", feeds[i % len(feeds)], title, " ".join(body),
                        t0.fromtimestamp(t0.timestamp() + i, UTC)))
    return out


def rss(base: str, items: Iterable[Item], title: str = "اختبار") -> bytes:
    body = "".join(
        f"<item><title>{html.escape(it.title)}</title><link>{base}{it.path()}</link><guid>{base}{it.path()}</guid>"
        f"<description>{html.escape(it.text[:200])}</description>"
        f"<pubDate>{format_datetime(it.published, usegmt=True)}</pubDate></item>" for it in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{html.escape(title)}'
            f"</title><link>{base}/</link><description>test</description>{body}</channel></rss>").encode()


def page(item: Item) -> bytes:
    paras = "".join(f"<p>{html.escape(' '.join(chunk))}</p>" for chunk in _chunks(item.text.split(), 30))
    return (f"<!doctype html><html lang='ar' dir='rtl'><head><meta charset='utf-8'><title>{html.escape(item.title)}"
            f"</title><meta property='article:published_time' content='{item.published.isoformat()}'></head>"
            f"<body><article><h1>{html.escape(item.title)}</h1>{paras}</article></body></html>").encode()


def _chunks(xs: list[str], n: int) -> Iterator[list[str]]:
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


class NewsSite:
    """Feeds and pages served from a mutable set of items: `publish()` makes new items appear in feeds.

    Each feed lists its newest `window` items (as real feeds do), pages are served for every item.
    """

    def __init__(self, feeds: Sequence[str], window: int = 50, delay: Callable[[str], float] | None = None) -> None:
        self.feeds = list(feeds)
        self.window = window
        self.items: dict[str, Item] = {}
        self.by_feed: dict[str, list[Item]] = {f: [] for f in feeds}
        self._lock = threading.Lock()
        self._rss: dict[str, bytes] = {}
        self.server = HTTPServer(self._route, delay=delay)

    @property
    def base(self) -> str:
        return self.server.base

    def publish(self, items: Iterable[Item]) -> None:
        with self._lock:
            for it in items:
                self.items[it.key] = it
                self.by_feed[it.feed].append(it)
            self._rss = {f: rss(self.base, reversed(v[-self.window:]), f) for f, v in self.by_feed.items()}

    def feed_url(self, feed: str) -> str:
        return f"{self.base}/feeds/{feed}.xml"

    def _route(self, path: str) -> tuple[int, str, bytes] | None:
        p = path.split("?")[0]
        if p.startswith("/feeds/") and p.endswith(".xml"):
            body = self._rss.get(p[len("/feeds/"):-4])
            if body is None:
                body = rss(self.base, [])
            return 200, "application/rss+xml; charset=utf-8", body
        m = re.fullmatch(r"/news/(\w+)\.html", p)
        if m and m.group(1) in self.items:
            return 200, "text/html; charset=utf-8", page(self.items[m.group(1)])
        return None

    def close(self) -> None:
        self.server.close()


_KEY = re.compile(r"/news/(\w+)\.html")


def alert_keys(posts: Sequence[bytes]) -> list[str]:
    """The item key each webhook POST is about (its link), in arrival order."""
    out = []
    for p in posts:
        m = _KEY.search(p.decode("utf-8", "replace"))
        out.append(m.group(1) if m else "?")
    return out


# ---------------------------------------------------------------- configuration

@dataclass(frozen=True)
class WatchSpec:
    id: str
    query: str
    notify: tuple[str, ...] = ("desk-slack",)


def write_config(folder: Path, redis_url: str, feeds: dict[str, str], watches: Sequence[WatchSpec], *,
                 slack_url: str | None = None, smtp_port: int | None = None, interval: str = "2s",
                 tick_s: float = 1, reload_s: float = 1, data_dir: str = "../var",
                 fetch_pages: bool = True, extra: str = "") -> Path:
    """A complete marsad.yaml + feeds.yaml + watchlists/ in `folder` (`extra`: more top-level YAML);
    returns marsad.yaml's path."""
    (folder / "watchlists").mkdir(parents=True, exist_ok=True)
    lines = ["feeds:"]
    for fid, url in feeds.items():
        lines.append(f'  - {{id: {fid}, url: "{url}", name: "{fid}", interval: {interval}, min_interval: 1s, '
                     f"fetch_pages: {str(fetch_pages).lower()}}}")
    (folder / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_watches(folder / "watchlists" / "main.yaml", watches)
    sinks = ["  console: {type: log}"]
    if slack_url:
        sinks.append(f'  desk-slack: {{type: slack, webhook_url: "{slack_url}"}}')
    if smtp_port:
        sinks.append(f"  analysts: {{type: email, host: 127.0.0.1, port: {smtp_port}, sender: marsad@localhost, "
                     "to: [desk@example.org]}")
    path = folder / "marsad.yaml"
    path.write_text(
        f"redis_url: {redis_url}\ndata_dir: {data_dir}\nfeeds: feeds.yaml\nwatchlists: watchlists/\nsinks:\n"
        + "\n".join(sinks)
        # Every feed and page of the test site is on one host (127.0.0.1): per-host politeness (1 request a
        # second by default) would turn a burst test into a politeness test, so it is off here.
        + "\nfetch: {timeout_s: 10, max_bytes: 5000000, user_agent: Marsad-test, allow_private_addresses: true,"
        + " host_max_concurrent: 64, host_min_gap_s: 0}\n"
        + f"schedule: {{tick_s: {tick_s}, reload_s: {reload_s}}}\n" + extra, encoding="utf-8")
    return path


def write_watches(path: Path, watches: Sequence[WatchSpec]) -> None:
    lines = ["watches:"]
    for w in watches:
        lines.append(f"  - {{id: {w.id}, name: {w.id}, query: '{w.query}', notify: [{', '.join(w.notify)}]}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- processes

# Test-only overrides applied inside the worker process before Celery starts (see Worker.overrides).
_BOOT = """
import json, os, sys
ov = json.loads(os.environ.get("MARSAD_TEST_OVERRIDES") or "{}")
import workers.app as a
if "visibility_timeout" in ov:
    a.app.conf.broker_transport_options["visibility_timeout"] = ov["visibility_timeout"]
if "alert_claim_ttl_s" in ov:
    import workers.stores.ledger as s
    s.ALERT_CLAIM_TTL_S = ov["alert_claim_ttl_s"]
for key, value in (ov.get("conf") or {}).items():
    a.app.conf[key] = value
from workers.cli.main import main
sys.argv[0] = "marsad"
main()
"""


@dataclass
class Worker:
    """A `marsad worker|beat` subprocess in its own process group, logging to `log`.

    `overrides` (test-only) shortens product constants whose real values would make a test wait for
    minutes: {"visibility_timeout": s} (600 s in workers/app.py), {"alert_claim_ttl_s": s} (120 s); and
    {"conf": {celery setting: value}} tries a Celery setting before it is proposed for workers/app.py.
    """

    config: Path
    log: Path
    args: Sequence[str] = ("worker", "--beat", "-c", "2")
    overrides: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**os.environ, "MARSAD_CONFIG": str(self.config), "MARSAD_LOG_LEVEL": "INFO",
               "MARSAD_TEST_OVERRIDES": json.dumps(self.overrides)}
        env.pop("MARSAD_REDIS_URL", None)
        cmd = [sys.executable, "-c", _BOOT, self.args[0], "--config", str(self.config), *self.args[1:]]
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[psutil.Process]:
        try:
            kids: list[psutil.Process] = psutil.Process(self.pid).children(recursive=True)
            return kids
        except psutil.NoSuchProcess:
            return []

    def process_talking_to(self, port: int, client_port: int | None = None) -> psutil.Process | None:
        """The process of this worker's tree with a TCP connection to 127.0.0.1:port (from `client_port`:
        a pool process may also hold idle keep-alive connections to the same server)."""
        for p in [psutil.Process(self.pid), *self.children()]:
            try:
                if any(c.raddr and c.raddr.port == port and (client_port is None or c.laddr.port == client_port)
                       for c in p.net_connections(kind="tcp")):
                    return p
            except psutil.Error:
                continue
        return None

    def rss_bytes(self) -> int:
        total = 0
        for p in [psutil.Process(self.pid), *self.children()]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM to the group): in-flight tasks finish or go back to the queue."""
        if not self.alive():
            return
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole group: the machine-crash case, nothing gets to clean up."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


def wait_for(cond: Callable[[], bool], timeout: float, what: str, logs: Sequence[Path] = ()) -> float:
    """Poll `cond` every 0.2 s; returns the seconds it took, or fails with the tail of the worker logs."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.2)
    tails = "".join(f"\n--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{tails}")


def queue_depths(client: redis.Redis) -> dict[str, int]:
    return {q: int(client.llen(q)) for q in ("poll", "article", "alert")}


def log_events(log: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of one event name."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if f'"event": "{event}"' in line or f'"event":"{event}"' in line:
            try:
                out.append(json.loads(line[line.index("{"):]))
            except ValueError:
                continue
    return out
