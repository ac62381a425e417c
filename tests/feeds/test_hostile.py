"""Hostile servers against the real fetch + parse path: each case ends with the right reason, fast, and alive.

The server listens on 127.0.0.2 and the tests treat that one address as "the public internet" (an address
check that blocks everything else as the production rule does), so redirects and DNS answers pointing at
127.0.0.1, 10/8 or 169.254.169.254 are refused exactly as they would be in production.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from feeds.errors import Permanent, Transient
from feeds.ingest.charset import decode_html
from feeds.ingest.http import ALLOW_HINT, FetchPolicy, address_block_reason, fetch
from feeds.ingest.sources.rss import MAX_ENTRIES, parse_feed
from feeds.models import Entry, FeedSource

HOST = "127.0.0.2"
FEED = FeedSource(id="hostile", url="http://feeds.example/", name="hostile")
POLICY = FetchPolicy(timeout_s=1.0, max_bytes=5_000_000)
Handler = Callable[[http.server.BaseHTTPRequestHandler], None]
ROUTES: dict[str, Handler] = {}
HITS: dict[str, int] = {}


def route(path: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ROUTES[path] = fn
        return fn
    return deco


class _H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        HITS[path] = HITS.get(path, 0) + 1
        try:
            ROUTES.get(path, _not_found)(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on purpose


def _not_found(h: http.server.BaseHTTPRequestHandler) -> None:
    send(h, 404, b"nope")


def send(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.send_header("Content-Length", str(len(body)))
    h.send_header("Connection", "close")
    h.end_headers()
    h.wfile.write(body)


def only_test_host(ip: str) -> str | None:
    """The production rule, except that 127.0.0.2 stands for a public server."""
    return None if ip == HOST else address_block_reason(ip)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer((HOST, 0), _H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://{HOST}:{srv.server_port}"
    srv.shutdown()


def get(url: str, policy: FetchPolicy = POLICY, **kw: Any) -> Any:
    kw.setdefault("check", only_test_host)
    return fetch(url, policy, **kw)


def poll(url: str, **kw: Any) -> tuple[str, list[Entry] | str]:
    """What a worker records for one poll: ("ok", entries) or ("transient"/"permanent", reason)."""
    try:
        res = get(url, **kw)
        return "ok", parse_feed(res.body, FEED, res.url)
    except Transient as e:
        return "transient", e.reason
    except Permanent as e:
        return "permanent", e.reason


def rss(items: str, decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return f'{decl}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


ITEM = "<item><title>خبر {n}</title><link>http://news.example/{n}</link><guid>g{n}</guid></item>"


# --- malformed and hostile XML -------------------------------------------------------------------------------

@route("/malformed")
def _malformed(h: Any) -> None:
    send(h, 200, rss('<item><title>AT&T <b>unclosed</title><link>http://n.example/1</link></item><item><title>x'),
         Content_Type="application/rss+xml")


def test_malformed_xml_still_yields_the_readable_items(base: str) -> None:
    kind, entries = poll(base + "/malformed")
    assert kind == "ok" and isinstance(entries, list)
    assert entries[0].url == "http://n.example/1" and entries[0].title.startswith("AT&T")


@route("/garbage")
def _garbage(h: Any) -> None:
    send(h, 200, b"\x00\x01<<<>>> this is not xml at all", Content_Type="application/rss+xml")


def test_garbage_body_is_not_a_feed(base: str) -> None:
    kind, reason = poll(base + "/garbage")
    assert kind == "permanent" and str(reason).startswith("not a feed")


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                    for i in range(1, 10))
          + ']><rss version="2.0"><channel><item><title>&lol9;</title><link>http://n.example/l</link>'
            "</item></channel></rss>").encode()


@route("/laughs")
def _laughs(h: Any) -> None:
    send(h, 200, LAUGHS, Content_Type="application/rss+xml")


def test_billion_laughs_feed_is_not_expanded(base: str) -> None:
    t0 = time.monotonic()
    kind, entries = poll(base + "/laughs")
    assert time.monotonic() - t0 < 1.0
    assert kind == "ok" and isinstance(entries, list)
    assert "lollol" not in entries[0].title and entries[0].url == "http://n.example/l"


QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"A" * 50_000 + b'">]><rss version="2.0">'
             b"<channel><item><title>" + b"&a;" * 80_000 + b"</title><link>http://n.example/q</link>"
             b"</item></channel></rss>")


@route("/quadratic")
def _quadratic(h: Any) -> None:
    send(h, 200, QUADRATIC, Content_Type="application/rss+xml")


def test_quadratic_entity_blowup_is_stripped_not_expanded(base: str) -> None:
    t0 = time.monotonic()
    kind, entries = poll(base + "/quadratic")
    assert time.monotonic() - t0 < 2.0  # expanded, this would be a 4-billion-character title
    assert kind == "ok" and isinstance(entries, list)
    assert "AAAA" not in entries[0].title and len(entries[0].title) <= 1000


@route("/html")
def _html(h: Any) -> None:
    send(h, 200, "<!DOCTYPE html><html><head><title>صفحة</title></head><body>مرحبا</body></html>".encode(),
         Content_Type="text/html; charset=utf-8")


def test_html_page_instead_of_feed_is_rejected_with_reason(base: str) -> None:
    assert poll(base + "/html") == ("permanent", "not a feed: text/html")


@route("/empty")
def _empty(h: Any) -> None:
    send(h, 200, b"", Content_Type="application/rss+xml")


def test_empty_200_is_rejected_with_reason(base: str) -> None:
    assert poll(base + "/empty") == ("permanent", "not a feed: empty response")


@route("/etc/passwd")
def _pathlike(h: Any) -> None:
    send(h, 200, b"/etc/passwd", Content_Type="application/rss+xml")


def test_body_that_looks_like_a_local_path_is_never_opened(base: str) -> None:
    kind, reason = poll(base + "/etc/passwd")
    assert kind == "permanent" and "root:" not in str(reason)


# --- compression and size ---------------------------------------------------------------------------------------

@route("/truncated-gzip")
def _truncated_gzip(h: Any) -> None:
    whole = gzip.compress(rss("".join(ITEM.format(n=n) for n in range(200))))
    send(h, 200, whole[: len(whole) // 2], Content_Encoding="gzip")


def test_truncated_gzip_is_a_transient_failure(base: str) -> None:
    assert poll(base + "/truncated-gzip") == ("transient", "truncated gzip body")


@route("/bad-gzip")
def _bad_gzip(h: Any) -> None:
    send(h, 200, b"this is not gzip data" * 10, Content_Encoding="gzip")


def test_invalid_gzip_data_is_rejected(base: str) -> None:
    kind, reason = poll(base + "/bad-gzip")
    assert kind == "permanent" and str(reason).startswith("bad gzip data")


def _bomb() -> bytes:
    return gzip.compress(b"\0" * 10_000_000, 9) * 100  # 1 GB of zeros in 100 gzip members, ~1 MB on the wire


BOMB: list[bytes] = []


@route("/gzip-bomb")
def _gzip_bomb(h: Any) -> None:
    send(h, 200, BOMB[0], Content_Encoding="gzip", Content_Type="application/rss+xml")


def test_gzip_bomb_stops_at_the_decompressed_cap(base: str) -> None:
    BOMB.append(BOMB[0] if BOMB else _bomb())
    t0 = time.monotonic()
    assert poll(base + "/gzip-bomb") == ("permanent", "too large: > 5 MB")
    assert time.monotonic() - t0 < 1.0


def _brotli_bomb() -> bytes:
    import brotli

    c = brotli.Compressor(quality=9, lgwin=24)
    zeros = b"\0" * 1_000_000
    return b"".join(c.process(zeros) for _ in range(256)) + c.finish()  # 256 MB of zeros in ~10 KB


BROTLI_BOMB: list[bytes] = []


@route("/brotli-bomb")
def _brotli_bomb_route(h: Any) -> None:
    send(h, 200, BROTLI_BOMB[0], Content_Encoding="br", Content_Type="application/rss+xml")


def test_brotli_decoder_never_returns_more_than_the_cap() -> None:
    """The decoder layer itself: one step on a 256 MB bomb yields at most cap + 1 bytes, never the whole."""
    pytest.importorskip("brotli")
    from feeds.ingest.decompress import BROTLI, ContentDecoder

    assert BROTLI, "the brotli installed lacks the bounded output (brotli >= 1.2): br must not be advertised"
    BROTLI_BOMB.append(BROTLI_BOMB[0] if BROTLI_BOMB else _brotli_bomb())
    assert len(BROTLI_BOMB[0]) < 20_000
    out = ContentDecoder("br").feed(BROTLI_BOMB[0], 1_000_000)
    assert 1_000_000 < len(out) <= 1_000_001


def test_brotli_bomb_stops_at_the_decompressed_cap(base: str) -> None:
    pytest.importorskip("brotli")
    BROTLI_BOMB.append(BROTLI_BOMB[0] if BROTLI_BOMB else _brotli_bomb())
    assert poll(base + "/brotli-bomb") == ("permanent", "too large: > 5 MB")


@route("/gigabyte")
def _gigabyte(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"x" * 65536
    for _ in range(16384):  # 1 GB, no Content-Length: only the streamed count can stop it
        h.wfile.write(chunk)


def test_one_gigabyte_body_is_cut_at_the_cap(base: str) -> None:
    t0 = time.monotonic()
    assert poll(base + "/gigabyte") == ("permanent", "too large: > 5 MB")
    assert time.monotonic() - t0 < 1.0


@route("/declared-huge")
def _declared_huge(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(1 << 30))
    h.end_headers()


def test_declared_huge_length_is_refused_before_reading(base: str) -> None:
    assert poll(base + "/declared-huge") == ("permanent", "too large: > 5 MB")


@route("/huge-headers")
def _huge_headers(h: Any) -> None:
    h.send_response(200)
    for i in range(40):
        h.send_header(f"X-Junk-{i}", "j" * 4000)
    h.send_header("Content-Length", "0")
    h.end_headers()


def test_oversized_headers_are_refused(base: str) -> None:
    policy = FetchPolicy(timeout_s=1.0, max_header_bytes=65536)
    kind, reason = poll(base + "/huge-headers", policy=policy)
    assert (kind, reason) == ("permanent", "headers too large: > 65536 bytes")


# --- time ----------------------------------------------------------------------------------------------------------

@route("/trickle")
def _trickle(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(100):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.1)  # each read is quick; only a total deadline ends this


def test_slow_trickle_body_hits_the_total_deadline(base: str) -> None:
    t0 = time.monotonic()
    assert poll(base + "/trickle") == ("transient", "timeout after 1 s")
    assert time.monotonic() - t0 < 1.6


@route("/trickle-headers")
def _trickle_headers(h: Any) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 100:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.05)


def test_slow_trickle_headers_hit_the_total_deadline(base: str) -> None:
    t0 = time.monotonic()
    assert poll(base + "/trickle-headers") == ("transient", "timeout after 1 s")
    assert time.monotonic() - t0 < 1.6


@route("/cut")
def _cut(h: Any) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "5000")
    h.end_headers()
    h.wfile.write(rss(ITEM.format(n=1))[:100])


def test_connection_closed_mid_body_is_transient(base: str) -> None:
    kind, reason = poll(base + "/cut")
    assert kind == "transient" and str(reason).startswith("connection broken")


def test_connection_refused_is_transient(base: str) -> None:
    import socket

    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    kind, reason = poll(f"http://{HOST}:{port}/feed")
    assert kind == "transient" and str(reason).startswith("connection failed")


# --- redirects and addresses --------------------------------------------------------------------------------------

def _chain(i: int) -> Handler:
    return lambda h: send(h, 302, b"", Location=f"/chain{i + 1}")


for _i in range(8):
    ROUTES[f"/chain{_i}"] = _chain(_i)
ROUTES["/loop-a"] = lambda h: send(h, 301, b"", Location="/loop-b")
ROUTES["/loop-b"] = lambda h: send(h, 301, b"", Location="/loop-a")


def test_redirect_loop_is_rejected(base: str) -> None:
    kind, reason = poll(base + "/loop-a")
    assert kind == "permanent" and str(reason).startswith("redirect loop")


def test_too_many_redirects_are_rejected(base: str) -> None:
    assert poll(base + "/chain0") == ("permanent", "too many redirects (> 5)")


@route("/to-loopback")
def _to_loopback(h: Any) -> None:
    send(h, 302, b"", Location=f"http://127.0.0.1:{h.server.server_port}/ok")


@route("/to-metadata")
def _to_metadata(h: Any) -> None:
    send(h, 307, b"", Location="http://169.254.169.254/latest/meta-data/")


@route("/to-file")
def _to_file(h: Any) -> None:
    send(h, 302, b"", Location="file:///etc/passwd")


def test_redirect_to_loopback_is_blocked(base: str) -> None:
    assert poll(base + "/to-loopback") == ("permanent", "blocked: loopback address 127.0.0.1 (" + ALLOW_HINT + ")")


def test_redirect_to_cloud_metadata_is_blocked(base: str) -> None:
    want = "blocked: link-local address 169.254.169.254 (" + ALLOW_HINT + ")"
    assert poll(base + "/to-metadata") == ("permanent", want)


def test_redirect_to_another_scheme_is_refused(base: str) -> None:
    assert poll(base + "/to-file") == ("permanent", "bad scheme: file (only http/https)")


def test_name_resolving_to_a_private_address_is_blocked_before_connecting(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    before = HITS.get("/feed", 0)
    kind, reason = poll(f"http://intranet.example:{port}/feed", resolve=lambda host, p: ["10.0.0.5"])
    assert (kind, reason) == ("permanent", "blocked: private address 10.0.0.5 (" + ALLOW_HINT + ")")
    assert HITS.get("/feed", 0) == before


@route("/feed")
def _feed(h: Any) -> None:
    send(h, 200, rss(ITEM.format(n=1) + ITEM.format(n=2)), Content_Type="application/rss+xml", ETag='"v1"')


def test_dns_answer_is_pinned_so_rebinding_cannot_reach_a_private_address(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    answers = iter([[HOST], ["10.0.0.5"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, p: int) -> list[str]:
        calls.append(host)
        return next(answers)

    kind, entries = poll(f"http://rebind.example:{port}/feed", resolve=rebinding)
    assert kind == "ok" and isinstance(entries, list) and len(entries) == 2
    assert calls == ["rebind.example"]  # checked and connected with one answer, never re-resolved


def test_mixed_public_and_private_answers_are_blocked(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    kind, reason = poll(f"http://mixed.example:{port}/feed", resolve=lambda host, p: [HOST, "192.168.1.1"])
    assert (kind, reason) == ("permanent", "blocked: private address 192.168.1.1 (" + ALLOW_HINT + ")")


# --- status codes ---------------------------------------------------------------------------------------------------

ROUTES["/429"] = lambda h: send(h, 429, b"slow down", Retry_After="120")
ROUTES["/503-date"] = lambda h: send(h, 503, b"", Retry_After=time.strftime(
    "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 600)))
ROUTES["/410"] = lambda h: send(h, 410, b"gone")
ROUTES["/304-unasked"] = lambda h: send(h, 304, b"")


def test_429_with_retry_after_is_transient_with_the_delay(base: str) -> None:
    with pytest.raises(Transient) as info:
        get(base + "/429")
    assert info.value.reason == "HTTP 429 Too Many Requests" and info.value.retry_after == 120


def test_503_with_http_date_retry_after(base: str) -> None:
    with pytest.raises(Transient) as info:
        get(base + "/503-date")
    assert info.value.retry_after is not None and 590 < info.value.retry_after <= 600


def test_410_gone_is_permanent(base: str) -> None:
    assert poll(base + "/410") == ("permanent", "HTTP 410 Gone")


def test_304_without_a_conditional_request_is_not_taken_as_unchanged(base: str) -> None:
    assert poll(base + "/304-unasked") == ("transient", "HTTP 304 to a request without validators")


FLAKY = {"n": 0}


@route("/flaky")
def _flaky(h: Any) -> None:
    FLAKY["n"] += 1
    if FLAKY["n"] == 1:
        send(h, 500, b"oops")
    else:
        send(h, 200, rss(ITEM.format(n=7)), Content_Type="application/rss+xml")


def test_500_then_recovery(base: str) -> None:
    assert poll(base + "/flaky") == ("transient", "HTTP 500 Internal Server Error")
    kind, entries = poll(base + "/flaky")
    assert kind == "ok" and isinstance(entries, list) and entries[0].guid == "g7"


# --- charsets -------------------------------------------------------------------------------------------------------

ARABIC = "اتفاق على وقف إطلاق النار في إدلب بين روسيا وتركيا"


@route("/cp1256-as-utf8")
def _cp1256_as_utf8(h: Any) -> None:
    page = f'<html><head><meta charset="utf-8"><title>{ARABIC}</title></head><body><p>{ARABIC}</p></body></html>'
    send(h, 200, page.encode("cp1256"), Content_Type="text/html; charset=utf-8")


def test_windows_1256_page_declared_as_utf8_comes_out_as_arabic(base: str) -> None:
    res = get(base + "/cp1256-as-utf8")
    assert ARABIC in decode_html(res.body, res.headers)


@route("/cp1256-feed-undeclared")
def _cp1256_feed(h: Any) -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><item><title>' + ARABIC
            + "</title><link>http://n.example/a</link></item></channel></rss>").encode("cp1256")
    send(h, 200, body, Content_Type="application/rss+xml")


def test_windows_1256_feed_without_any_charset_is_read_as_arabic(base: str) -> None:
    kind, entries = poll(base + "/cp1256-feed-undeclared")
    assert kind == "ok" and isinstance(entries, list) and entries[0].title == ARABIC


# --- items ----------------------------------------------------------------------------------------------------------

@route("/odd-items")
def _odd_items(h: Any) -> None:
    items = ("<item><title>بلا معرف</title><link>/news/1</link></item>"
             "<item><title>بلا رابط ولا معرف</title><description>نص الخبر</description></item>"
             "<item><guid>dup</guid><title>أول</title><link>news/2</link></item>"
             "<item><guid>dup</guid><title>ثان</title><link>news/3</link></item>")
    send(h, 200, rss(items), Content_Type="application/rss+xml")


ROUTES["/moved-feed"] = lambda h: send(h, 301, b"", Location="/section/odd-items-here")
ROUTES["/section/odd-items-here"] = _odd_items


def test_items_without_dates_or_guids_and_duplicates_and_relative_links(base: str) -> None:
    kind, entries = poll(base + "/moved-feed")
    assert kind == "ok" and isinstance(entries, list)
    assert [e.title for e in entries] == ["بلا معرف", "بلا رابط ولا معرف", "أول"]  # the duplicate guid collapsed
    assert entries[0].url == base + "/news/1" and entries[0].guid == entries[0].url  # no guid → link
    assert entries[1].url == "" and entries[1].guid.startswith("sha256:")  # no link → content hash
    assert entries[2].url == base + "/section/news/2"  # relative to the final URL, after the redirect
    assert all(e.published is None for e in entries)


@route("/enormous")
def _enormous(h: Any) -> None:
    send(h, 200, rss("".join(ITEM.format(n=n) for n in range(5_000))), Content_Type="application/rss+xml")


def test_enormous_entry_count_is_capped(base: str) -> None:
    kind, entries = poll(base + "/enormous", policy=FetchPolicy(timeout_s=5))
    assert kind == "ok" and isinstance(entries, list) and len(entries) == MAX_ENTRIES


# --- the rest of the system is not held up --------------------------------------------------------------------------

def test_a_hostile_server_does_not_delay_other_fetches(base: str) -> None:
    slow = threading.Thread(target=poll, args=(base + "/trickle",))
    slow.start()
    t0 = time.monotonic()
    for _ in range(5):
        assert poll(base + "/feed")[0] == "ok"
    assert time.monotonic() - t0 < 0.5 and slow.is_alive()
    slow.join()
