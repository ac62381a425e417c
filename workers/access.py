"""Who may reach a server Marsad runs (console, metrics): loopback hosts, and HTTP Basic credentials."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress


def is_loopback(host: str) -> bool:
    """Whether `host` keeps a server to this machine: "localhost" or a loopback address written as one
    (127.0.0.2, ::1, [::1]). Any other name may resolve to any address ("127.0.0.1.example.org" too)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def basic_user(header: str, user: str, password: str) -> str | None:
    """The user of an `Authorization: Basic …` header when it gives `user` and `password`, else None. Both are
    compared in constant time, whatever the first comparison gave."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        given_user, _, given_password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    ok_user = hmac.compare_digest(given_user.encode(), user.encode())
    ok_password = hmac.compare_digest(given_password.encode(), password.encode())
    return given_user if ok_user and ok_password else None
