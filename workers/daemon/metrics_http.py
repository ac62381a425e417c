"""Serving /metrics: prometheus_client's WSGI app behind HTTP Basic, refused beyond loopback without a password."""

from __future__ import annotations

import socket
import socketserver
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from feeds.errors import InvalidInput
from workers.access import basic_user, is_loopback

# The password comes from the environment only: an argument would show in `ps` to every user of the host.
PASSWORD_ENV = "MARSAD_METRICS_PASSWORD"
USER_ENV = "MARSAD_METRICS_USER"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def check_bind(host: str, password: str | None) -> None:
    """Nothing listens beyond this machine without authentication (the counters name feeds and watches)."""
    if not password and not is_loopback(host):
        raise InvalidInput(f"metrics: refusing to listen on {host} without authentication: set {PASSWORD_ENV} "
                           f"(and {USER_ENV}, default 'prometheus'); Prometheus scrapes with basic_auth")


def guarded(app: WSGIApp, user: str, password: str | None) -> WSGIApp:
    """`app`, answering 401 to a request without the credentials when a password is set."""
    if not password:
        return app

    def wrapper(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if basic_user(str(environ.get("HTTP_AUTHORIZATION", "")), user, password) is not None:
            return app(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="marsad metrics"'),
                                            ("Content-Type", "text/plain; charset=utf-8")])
        return [b"authentication required\n"]

    return wrapper


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 15 s is not worth a line on stderr


class _Threading(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stuck scraper never holds up the exit


def server(registry: CollectorRegistry, host: str, port: int, user: str, password: str | None) -> WSGIServer:
    """The bound server (call `serve_forever`); InvalidInput when the bind is refused or impossible."""
    check_bind(host, password)
    host = host.strip("[]")  # "[::1]" as written in a URL
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("MetricsServer", (_Threading,), {"address_family": family})
    try:
        return make_server(host, port, guarded(make_wsgi_app(registry), user, password), server_class, _Quiet)
    except OSError as exc:
        raise InvalidInput(f"metrics: cannot listen on {host}:{port}: {exc.strerror}") from None
