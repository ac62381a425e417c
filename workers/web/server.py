"""Serving the console: uvicorn on the configured address, refusing a non-loopback one without authentication."""

from __future__ import annotations

import socket

import uvicorn

from feeds.errors import InvalidInput
from workers.app import use_redis
from workers.config.load import Settings
from workers.config.models import WebConfig
from workers.runtime import preload, runtime
from workers.web.app import create_app
from workers.web.common import Console


def check_bind(cfg: WebConfig) -> None:
    if not cfg.loopback and not cfg.authenticated:
        raise InvalidInput(f"web: refusing to listen on {cfg.host} without authentication: set web.user and "
                           "web.password (or web.proxy_user_header behind an authenticating reverse proxy)")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts, so port 0 gives a port to print."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"web: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(settings: Settings, sock: socket.socket) -> None:
    """Run the console until stopped (SIGINT/SIGTERM) on an already bound socket."""
    check_bind(settings.web)
    preload(settings)
    use_redis(settings.redis_url)  # the console's retry buttons enqueue alert tasks
    app = create_app(Console(runtime))
    # proxy_headers off: request.client stays the peer that connected, which is what trusted_proxies checks.
    config = uvicorn.Config(app, log_config=None, access_log=False, proxy_headers=False, server_header=False,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
