"""Where a fetch may connect: the address rule, one DNS answer pinned per connection, and total deadlines."""

from __future__ import annotations

import heapq
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as u3conn

Resolver = Callable[[str, int], Sequence[str]]
AddressCheck = Callable[[str], "str | None"]  # an IP → why it is blocked, or None


class Blocked(Exception):
    """Raised inside the connection when the resolved address is not allowed (turned into Permanent)."""


def address_block_reason(ip: str) -> str | None:
    """Why this address may not be contacted, or None when it is a public unicast address."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for attr, label in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                        ("is_unspecified", "unspecified"), ("is_reserved", "reserved"), ("is_private", "private"),
                        # fec0::/10: deprecated (RFC 3879) but still routed inside some sites; ipaddress counts
                        # it as global. IPv4 addresses have no such attribute.
                        ("is_site_local", "site-local")):
        if getattr(addr, attr, False):
            return f"blocked: {label} address {addr}"
    if not addr.is_global:  # shared (100.64/10), benchmarking, documentation ranges …
        return f"blocked: non-public address {addr}"
    return None


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Guard:
    """Resolves a host once, checks every answer, and returns the one IP the socket will use (the pin)."""

    def __init__(self, allow_private: bool, resolve: Resolver, check: AddressCheck) -> None:
        self.allow_private = allow_private
        self.resolve = resolve
        self.check = check
        self.local = threading.local()  # sockets opened by the fetch running on this thread

    def pick(self, host: str, port: int) -> str:
        addrs = list(self.resolve(host.strip("[]"), port))
        if not addrs:
            raise socket.gaierror(f"no address for {host}")
        if not self.allow_private:
            for ip in addrs:  # one bad answer blocks the name: a mix of public and private is itself suspicious
                reason = self.check(ip)
                if reason:
                    raise Blocked(reason)
        return addrs[0]

    def opened(self, sock: socket.socket) -> None:
        sockets: list[socket.socket] | None = getattr(self.local, "sockets", None)
        if sockets is not None:
            sockets.append(sock)


class _PinnedMixin:
    """Connect to the address the guard approved; Host header and TLS SNI/cert check still use the name."""

    guard: ClassVar[Guard]
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        ip = self.guard.pick(self.host, self.port)  # the name resolved once; the socket uses exactly this IP
        try:
            sock = u3conn.create_connection((ip, self.port), self.timeout, source_address=self.source_address,
                                            socket_options=self.socket_options)
        except TimeoutError as e:
            raise ConnectTimeoutError(self, f"connect to {self.host} timed out") from e
        except OSError as e:
            raise NewConnectionError(self, f"connect to {self.host} ({ip}) failed: {e}") from e  # type: ignore[arg-type]
        self.guard.opened(sock)
        return sock


class GuardedAdapter(HTTPAdapter):
    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        attrs = {"guard": self.guard}
        http_conn = type("PinnedHTTPConnection", (_PinnedMixin, HTTPConnection), attrs)
        https_conn = type("PinnedHTTPSConnection", (_PinnedMixin, HTTPSConnection), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
        }


_cache = threading.local()


def guarded_session(allow_private: bool, resolve: Resolver | None = None, session: requests.Session | None = None,
                    check: AddressCheck | None = None) -> tuple[requests.Session, Guard]:
    """A session whose every connection goes through the guard (cached per thread unless hooks are given).

    A session passed in gets the guarded adapter mounted for http:// and https://.
    """
    default = resolve is None and session is None and check is None
    key = ("allow" if allow_private else "deny") if default else None
    if key is not None and key in getattr(_cache, "sessions", {}):
        cached: tuple[requests.Session, Guard] = _cache.sessions[key]
        return cached
    guard = Guard(allow_private, resolve or system_resolve, check or address_block_reason)
    sess = session or requests.Session()
    sess.trust_env = False  # an environment proxy would connect for us and bypass the address check
    adapter = GuardedAdapter(guard)
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    if key is not None:
        _cache.sessions = {**getattr(_cache, "sessions", {}), key: (sess, guard)}
    return sess, guard


class _Watchdog:
    """One daemon thread that runs each registered callback at its deadline (a Timer per fetch costs a thread)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, Callable[[], None]]] = []
        self.cancelled: set[int] = set()
        self.seq = 0
        self.thread: threading.Thread | None = None

    def add(self, at: float, fn: Callable[[], None]) -> int:
        with self.cond:
            self.seq += 1
            heapq.heappush(self.heap, (at, self.seq, fn))
            if self.thread is None or not self.thread.is_alive():  # also after a fork
                self.thread = threading.Thread(target=self._run, name="marsad-fetch-deadlines", daemon=True)
                self.thread.start()
            self.cond.notify()
            return self.seq

    def cancel(self, token: int) -> None:
        with self.cond:
            self.cancelled.add(token)

    def _run(self) -> None:
        while True:
            with self.cond:
                while self.heap and self.heap[0][1] in self.cancelled:
                    self.cancelled.discard(heapq.heappop(self.heap)[1])
                if not self.heap:
                    self.cond.wait()
                    continue
                at, _token, fn = self.heap[0]
                delay = at - time.monotonic()
                if delay > 0:
                    self.cond.wait(delay)
                    continue
                heapq.heappop(self.heap)
            fn()


_watchdog = _Watchdog()


@contextmanager
def deadline(guard: Guard, seconds: float) -> Iterator[threading.Event]:
    """Shut this fetch's sockets down when the deadline passes: socket timeouts are per read, not in total."""
    fired = threading.Event()
    sockets: list[socket.socket] = []
    guard.local.sockets = sockets

    def kill() -> None:
        fired.set()
        for s in list(sockets):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    token = _watchdog.add(time.monotonic() + max(seconds, 0.0), kill)
    try:
        yield fired
    finally:
        _watchdog.cancel(token)
        guard.local.sockets = None
