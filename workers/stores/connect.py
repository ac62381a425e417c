"""Reaching Redis from its URL: TCP (redis://, rediss://), a unix socket (unix://) or Sentinel
(sentinel://h1:26379,h2:26379/mymaster), as a client for the stores and as a broker URL for Celery."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from feeds.errors import InvalidInput

# Every client call times out, so a vanished Redis fails a call (and the task retries) instead of hanging it.
SOCKET_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 5
HEALTH_CHECK_S = 30
_SCHEMES = ("redis", "rediss", "unix", "sentinel")


class NotRunning(Exception):
    """No Redis answers at the configured place: `message` says where and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Target:
    """A parsed redis_url; `url` is the text as configured (it may hold a password: print `safe()`)."""

    url: str
    scheme: str
    path: str = ""  # unix socket
    hosts: tuple[tuple[str, int], ...] = ()  # sentinels
    master: str = ""
    password: str | None = field(default=None, repr=False)
    db: int = 0

    def safe(self) -> str:
        """The URL without its password, for messages and logs."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        if self.scheme == "sentinel":
            return "sentinel://" + ",".join(f"{h}:{p}" for h, p in self.hosts) + f"/{self.master}/{self.db}"
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path or '/0'}"


def parse(url: str) -> Target:
    """Check and split a redis_url; InvalidInput names what is wrong with it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise InvalidInput(f"redis_url: expected redis://, rediss://, unix:// or sentinel://, got {parts.scheme!r}")
    password = unquote(parts.password) if parts.password else None
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        if not parts.path:
            raise InvalidInput("redis_url: unix:// needs the socket's path (unix:///var/lib/marsad/redis.sock)")
        db = int((query.get("db") or ["0"])[0])
        return Target(url, "unix", path=unquote(parts.path), password=password, db=db)
    if parts.scheme == "sentinel":
        netloc = parts.netloc.rpartition("@")[2]
        hosts = []
        for item in netloc.split(","):
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
            if not host or not port.isdigit():
                raise InvalidInput(f"redis_url: sentinel host {item!r}: use host:port")
            hosts.append((host, int(port)))
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            raise InvalidInput("redis_url: sentinel:// needs the master's name (sentinel://h1:26379,h2:26379/mymaster)")
        db = int(segments[1]) if len(segments) > 1 and segments[1].isdigit() else 0
        return Target(url, "sentinel", hosts=tuple(hosts), master=segments[0], password=password, db=db)
    try:
        db = int((parts.path or "/0").strip("/") or 0)
        _ = parts.port
    except ValueError as exc:
        raise InvalidInput(f"redis_url: {exc}") from None
    return Target(url, parts.scheme, password=password, db=db)


def client(url: str) -> redis.Redis:
    """A redis-py client for the stores; for Sentinel, one that follows the master through failovers."""
    t = parse(url)
    common: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S,
                              "retry_on_timeout": True}
    if t.scheme == "sentinel":
        sentinel = Sentinel(list(t.hosts), sentinel_kwargs={  # type: ignore[no-untyped-call]
            "socket_timeout": CONNECT_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S}, **common)
        master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            t.master, password=t.password, db=t.db, health_check_interval=HEALTH_CHECK_S, **common)
        return master
    return redis.Redis.from_url(url, health_check_interval=HEALTH_CHECK_S, **common)


def broker(url: str) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL for this redis_url and the transport options it needs (master_name for Sentinel)."""
    t = parse(url)
    if t.scheme == "unix":
        auth = f":{quote(t.password, safe='')}@" if t.password else ""
        return f"redis+socket://{auth}{t.path}?virtual_host={t.db}", {}
    if t.scheme == "sentinel":
        auth = f":{quote(t.password, safe='')}@" if t.password else ""
        urls = ";".join(f"sentinel://{auth}{h}:{p}/{t.db}" for h, p in t.hosts)
        # The sentinels themselves are asked without the master's password (sentinel_kwargs has none).
        return urls, {"master_name": t.master, "sentinel_kwargs": {"socket_timeout": CONNECT_TIMEOUT_S}}
    return url, {}


# How long a unit of work waits for its writes to reach the replicas before it is acknowledged.
WAIT_TIMEOUT_MS = 2000


def replicas_to_wait_for(url: str, configured: int | None) -> int:
    """The replicas a unit of work's writes must reach before its task is acknowledged: as configured, else
    one behind Sentinel (a failover promotes a replica, and what it had not received is gone) and none
    for a single Redis."""
    if configured is not None:
        return configured
    return 1 if parse(url).scheme == "sentinel" else 0


def settle(c: redis.Redis, replicas: int, timeout_ms: int = WAIT_TIMEOUT_MS) -> int:
    """WAIT until `replicas` replicas hold everything written so far (replication offsets are global, so the
    task messages another connection published before this connection's last write are covered too).
    Returns how many did; fewer (a replica down) is not an error: the work goes on, less protected."""
    if replicas <= 0:
        return 0
    try:
        return int(c.wait(replicas, timeout_ms))
    except redis.exceptions.ResponseError:  # a server without replication support (or WAIT refused)
        return 0


def require(url: str, embedded: bool = False) -> redis.Redis:
    """A client that answered PING, or NotRunning saying where Redis was looked for and what to do."""
    c = client(url)
    try:
        c.ping()
    except redis.exceptions.RedisError as exc:
        where = parse(url).safe()
        if embedded:
            raise NotRunning(f"Marsad is not running (no Redis at {where}); start it with `make run` or "
                             "`marsad up`") from None
        raise NotRunning(f"Redis unreachable at {where}: {exc}; is it running, and is redis_url right?") from None
    return c
