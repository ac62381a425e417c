"""feeds.ingest.http on a real local server: conditional GET, encodings, redirects, the address rule, charsets."""

from __future__ import annotations

import gzip
import http.server
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from feeds.errors import Permanent, Transient
from feeds.ingest.charset import decode_html
from feeds.ingest.http import FetchPolicy, address_block_reason, fetch

LOCAL = FetchPolicy(timeout_s=2, allow_private_addresses=True)
BODY = "<rss><channel><title>نشرة الأخبار</title></channel></rss>".encode()
SEEN: list[dict[str, str]] = []


class _H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        SEEN.append(dict(self.headers.items()))
        path = self.path
        if path == "/cond":
            if self.headers.get("If-None-Match") == '"v1"' or self.headers.get("If-Modified-Since"):
                self.reply(304)  # no validators repeated: the caller's must be kept
            else:
                self.reply(200, BODY, ETag='"v1"', Last_Modified="Mon, 01 Jan 2018 00:00:00 GMT")
        elif path == "/gzip":
            self.reply(200, gzip.compress(BODY), Content_Encoding="gzip")
        elif path == "/gzip-members":
            self.reply(200, gzip.compress(BODY[:20]) + gzip.compress(BODY[20:]), Content_Encoding="gzip")
        elif path == "/deflate":
            self.reply(200, zlib.compress(BODY), Content_Encoding="deflate")
        elif path == "/raw-deflate":
            comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            self.reply(200, comp.compress(BODY) + comp.flush(), Content_Encoding="deflate")
        elif path.startswith("/hop"):
            n = int(path[4:])
            self.reply(302, Location=f"/hop{n - 1}") if n > 0 else self.reply(200, BODY)
        else:
            self.reply(404)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.mark.parametrize(("ip", "reason"), [
    ("10.0.0.5", "blocked: private address 10.0.0.5"),
    ("192.168.1.20", "blocked: private address 192.168.1.20"),
    ("127.0.0.1", "blocked: loopback address 127.0.0.1"),
    ("169.254.169.254", "blocked: link-local address 169.254.169.254"),
    ("224.0.0.251", "blocked: multicast address 224.0.0.251"),
    ("0.0.0.0", "blocked: unspecified address 0.0.0.0"),
    ("240.0.0.1", "blocked: reserved address 240.0.0.1"),
    ("100.64.0.1", "blocked: non-public address 100.64.0.1"),
    ("::1", "blocked: loopback address ::1"),
    ("fe80::1", "blocked: link-local address fe80::1"),
    ("fec0::1", "blocked: site-local address fec0::1"),
    ("fd00::1", "blocked: private address fd00::1"),
    ("::ffff:10.1.2.3", "blocked: private address 10.1.2.3"),
    ("8.8.8.8", None),
    ("2a00:1450:4001:80b::200e", None),
])
def test_address_rule(ip: str, reason: str | None) -> None:
    assert address_block_reason(ip) == reason


def test_loopback_is_blocked_by_default(base: str) -> None:
    with pytest.raises(Permanent, match=r"blocked: loopback address 127\.0\.0\.1"):
        fetch(base + "/cond", FetchPolicy(timeout_s=2))


def test_a_caller_session_is_guarded_too(base: str) -> None:
    with pytest.raises(Permanent, match="blocked: loopback"):
        fetch(base + "/cond", FetchPolicy(timeout_s=2), session=requests.Session())


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd", "javascript:alert(1)",
                                 "http:///nohost"])
def test_only_http_and_https_urls(url: str) -> None:
    with pytest.raises(Permanent):
        fetch(url, LOCAL)


def test_conditional_get_returns_not_modified_and_keeps_validators(base: str) -> None:
    first = fetch(base + "/cond", LOCAL)
    assert first.status == 200 and first.body == BODY and first.etag == '"v1"' and not first.not_modified
    again = fetch(base + "/cond", LOCAL, etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.status == 304 and again.body == b""
    assert (again.etag, again.last_modified) == (first.etag, first.last_modified)
    assert SEEN[-1]["If-None-Match"] == '"v1"' and SEEN[-1]["If-Modified-Since"] == first.last_modified


def test_request_identifies_itself(base: str) -> None:
    fetch(base + "/cond", FetchPolicy(timeout_s=2, allow_private_addresses=True, user_agent="Marsad/test"),
          accept="application/rss+xml")
    assert SEEN[-1]["User-Agent"] == "Marsad/test" and SEEN[-1]["Accept"] == "application/rss+xml"
    assert "gzip" in SEEN[-1]["Accept-Encoding"]


@pytest.mark.parametrize("path", ["/gzip", "/gzip-members", "/deflate", "/raw-deflate"])
def test_compressed_bodies_are_decoded(base: str, path: str) -> None:
    assert fetch(base + path, LOCAL).body == BODY


def test_redirects_are_followed_and_the_final_url_reported(base: str) -> None:
    res = fetch(base + "/hop5", LOCAL)
    assert res.url == base + "/hop0" and res.body == BODY
    with pytest.raises(Permanent, match=r"too many redirects \(> 5\)"):
        fetch(base + "/hop6", LOCAL)


def test_404_is_permanent_with_status_text(base: str) -> None:
    with pytest.raises(Permanent, match="HTTP 404 Not Found"):
        fetch(base + "/missing", LOCAL)


ARABIC = "وزير الخارجية الروسي يلتقي نظيره التركي في موسكو"


def _page(meta: str = "") -> str:
    return f"<html><head>{meta}<title>{ARABIC}</title></head><body><p>{ARABIC}</p></body></html>"


@pytest.mark.parametrize(("body", "headers"), [
    (b"\xef\xbb\xbf" + _page().encode(), {}),  # utf-8 BOM, nothing declared
    (_page().encode(), {}),  # utf-8 without BOM or declaration
    (_page('<meta charset="iso-8859-6">').encode("iso8859_6"), {}),
    (_page('<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">').encode("cp1256"), {}),
    (_page().encode("cp1256"), {"Content-Type": "text/html; charset=windows-1256"}),
    (_page().encode("cp1256"), {"Content-Type": "text/html; charset=utf-8"}),  # declared wrong
    (_page('<meta charset="iso-8859-1">').encode("cp1256"), {}),  # a Latin label on Arabic bytes
    (_page().encode("cp1256"), {}),  # nothing declared: sniffed
    (_page().encode("iso8859_6"), {}),
])
def test_decode_html_never_gives_mojibake(body: bytes, headers: dict[str, str]) -> None:
    assert ARABIC in decode_html(body, headers)


def test_decode_html_keeps_a_declared_latin_page_latin() -> None:
    page = "<html><head><meta charset='windows-1252'></head><body>Café crème à Genève</body></html>"
    assert "Café crème à Genève" in decode_html(page.encode("cp1252"), {})


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """An HTTPS server on 127.0.0.2 with a self-signed certificate for the name feeds.test."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=feeds.test", "-addext", "subjectAltName=DNS:feeds.test", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_port, str(cert)
    srv.shutdown()


def test_pinned_https_keeps_host_sni_and_certificate_checks_on_the_name(tls_server: tuple[int, str]) -> None:
    port, cert = tls_server
    session = requests.Session()
    session.verify = cert
    res = fetch(f"https://feeds.test:{port}/cond", LOCAL, session=session, resolve=lambda h, p: ["127.0.0.2"])
    assert res.status == 200 and res.body == BODY
    assert SEEN[-1]["Host"] == f"feeds.test:{port}"
    other = requests.Session()
    other.verify = cert
    with pytest.raises(Transient, match="TLS error"):  # the certificate names feeds.test only
        fetch(f"https://other.test:{port}/cond", LOCAL, session=other, resolve=lambda h, p: ["127.0.0.2"])
