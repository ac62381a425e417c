"""Canonical URLs: one spelling per page (tracking, AMP/mobile variants, ports, case removed), and the
page's own `<link rel=canonical>` when it stays on the same site."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that identify a click, a campaign or a referrer, never the page itself.
_TRACKING_EXACT = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "ocid", "ref", "ref_src", "ref_url", "referrer", "source", "src", "cmpid", "cmp", "campaign",
    "_ga", "_gl", "spm", "share", "at_medium", "at_campaign", "ito", "xtor", "ns_mchannel", "ns_source",
    "ns_campaign", "ns_linkname", "ns_fee", "amp", "outputtype", "output", "platform", "via", "s",
    "__twitter_impression", "rss", "from", "ftag", "smid", "partner",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "at_", "__")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Path suffixes/segments that mark the AMP rendering of a page that exists without them.
_AMP_SUFFIX = re.compile(r"(?:/amp|\.amp|/amp\.html?)$", re.IGNORECASE)
_AMP_SEGMENT = re.compile(r"^/amp(?=/)", re.IGNORECASE)
# Characters that may appear unescaped in a path / query without changing its meaning (RFC 3986).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = ":@!$'()*+,;/?-._~"


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def site_host(host: str) -> str:
    """A host name as one site: lower case, and amp./m./mobile./www. renderings dropped."""
    host = host.lower().rstrip(".")
    # amp., m., mobile. and www. are renderings of the same site; "www." is dropped too so that
    # example.com and www.example.com (both seen in feeds) give one key.
    for prefix in ("amp.", "m.", "mobile.", "www."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
    return host


def canonical_url(url: str) -> str:
    """One spelling per page: tracking, AMP/mobile variants, default ports, fragments and case removed."""
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    scheme = parts.scheme.lower()
    if scheme == "http" or scheme == "https":
        # http and https serve the same article on news sites; keep one so a feed switching
        # scheme does not re-deliver its whole history.
        scheme = "https"
    host = site_host(parts.hostname or "")
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()) else f"{host}:{port}"
    # Percent-encoding normalised: decode then re-encode with one fixed safe set, so %D8%A7, %d8%a7
    # and a raw "ا" are the same key.
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    path = _AMP_SUFFIX.sub("", path)
    path = _AMP_SEGMENT.sub("", path)
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    for index in ("/index.html", "/index.htm", "/index.php"):
        if path.endswith(index):
            path = path[: -len(index)] or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    query.sort()
    q = urlencode(query, quote_via=lambda s, *_: quote(s, safe=_QUERY_SAFE))
    return urlunsplit((scheme, netloc, path if path != "/" or q else "", q, ""))
