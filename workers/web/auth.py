"""Who may use the console: nobody but this machine without configured credentials, HTTP Basic or an
authenticating reverse proxy's header otherwise; and no cross-site form posts."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from workers.access import basic_user, is_loopback
from workers.config.models import WebConfig

SECURITY_HEADERS = {
    # No inline script or style anywhere: what an archived article smuggles in cannot run.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Links to the outlets' pages must not tell them the console's address.
    "Referrer-Policy": "no-referrer",
}


def user_of(request: Request, cfg: WebConfig) -> str | None:
    """The authenticated user, "" when none is needed (loopback without credentials), None when refused."""
    if cfg.user and cfg.password:
        user = basic_user(request.headers.get("authorization", ""), cfg.user, cfg.password)
        if user is not None:
            return user
        if not cfg.proxy_user_header:
            return None
    if cfg.proxy_user_header:
        client = request.client.host if request.client else ""
        proxied = request.headers.get(cfg.proxy_user_header, "").strip()
        return proxied if proxied and client in cfg.trusted_proxies else None
    return ""  # loopback only: config loading refused any other bind without credentials


def same_origin(request: Request) -> bool:
    """A state-changing request comes from the console's own pages (browsers send Origin on every POST, and
    Sec-Fetch-Site; an older one only Referer): each of them that is present must name this host. A request
    with none of them is not from a browser, so not a forged one."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin:
        return urlsplit(origin).netloc == host
    referer = request.headers.get("referer")
    return not referer or urlsplit(referer).netloc == host


_LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_allowed(request: Request, cfg: WebConfig) -> bool:
    """Without credentials, only a loopback Host: a web page whose own domain resolves to 127.0.0.1 (DNS
    rebinding) would otherwise read the console from the user's browser."""
    if cfg.authenticated:
        return True
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    allowed = set(_LOCAL_NAMES)
    if cfg.public_url:
        allowed.add(urlsplit(cfg.public_url).hostname or "")
    return name in allowed or is_loopback(name)  # a name that merely starts with "127." is not loopback
