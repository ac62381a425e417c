"""Content-Encoding undone with a bounded output per step (gzip, deflate, brotli): a bomb stops at the cap."""

from __future__ import annotations

import zlib
from typing import Any

from feeds.errors import Permanent

try:  # brotli is optional: we only advertise "br" when we can decode it with a bounded output
    import brotli  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None


def _bounded_brotli() -> bool:
    """brotli ≥ 1.2 takes an output limit per call; older releases return a whole bomb at once (1.7 KB
    became 2.2 GB of memory before the size cap could look), so "br" is advertised only with the limit."""
    if brotli is None:
        return False
    try:
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return False
    return True


BROTLI = _bounded_brotli()
ACCEPT_ENCODING = "gzip, deflate, br" if BROTLI else "gzip, deflate"
# What a corrupt body raises while it is decoded (the fetch turns it into a Permanent error naming the encoding).
DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error,) + ((brotli.error,) if brotli is not None else ())


class _Zlib:
    """gzip, or HTTP "deflate" (zlib-wrapped by the spec, raw deflate on some servers: try both)."""

    def __init__(self, gzip: bool) -> None:
        self.wbits = [16 + zlib.MAX_WBITS] if gzip else [zlib.MAX_WBITS, -zlib.MAX_WBITS]
        self.obj: Any = None

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self.obj is None:
            for wbits in self.wbits[:-1]:
                self.obj = zlib.decompressobj(wbits)
                try:
                    return self._more(bytes(self.obj.decompress(data, max_length)), max_length)
                except zlib.error:
                    pass
            self.obj = zlib.decompressobj(self.wbits[-1])
        return self._more(bytes(self.obj.decompress(data, max_length)), max_length)

    def _more(self, out: bytes, max_length: int) -> bytes:
        # gzip allows several members back to back; each starts a fresh decompressor
        while self.obj.eof and self.obj.unused_data and len(self.wbits) == 1 and len(out) <= max_length:
            rest = self.obj.unused_data
            self.obj = zlib.decompressobj(self.wbits[0])
            out += self.obj.decompress(rest, max_length - len(out) + 1)
        return out

    def over(self) -> bool:
        return bool(self.obj is not None and self.obj.unconsumed_tail)

    def truncated(self) -> bool:
        return self.obj is not None and not self.obj.eof


class _Brotli:
    """brotli with a bounded output per step: at most `max_length` bytes come out of one call."""

    def __init__(self) -> None:
        self.obj: Any = brotli.Decompressor()
        self.pending = False

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = bytes(self.obj.process(data, output_buffer_limit=max_length))
        # Output left inside the decoder (it cannot take more input yet): the cap is already exceeded. The
        # limit stops the buffer growing, so one step may overshoot by a block; cut it, the cap is passed.
        self.pending = len(out) >= max_length and not self.obj.can_accept_more_data()
        return out[:max_length]

    def over(self) -> bool:
        return self.pending

    def truncated(self) -> bool:
        return not self.obj.is_finished()


class ContentDecoder:
    """Undo Content-Encoding layers with a bounded output per step (a gzip bomb stops at the cap)."""

    def __init__(self, encoding: str) -> None:
        names = [e.strip().lower() for e in encoding.split(",") if e.strip().lower() not in ("", "identity")]
        self.layers: list[Any] = []
        for name in reversed(names):
            if name in ("gzip", "x-gzip", "deflate"):
                self.layers.append(_Zlib(gzip=name != "deflate"))
            elif name == "br" and BROTLI:
                self.layers.append(_Brotli())
            else:
                raise Permanent(f"unsupported content encoding: {name[:20]}")

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decoded bytes; returns more than `limit` bytes exactly when the output would exceed it."""
        for layer in self.layers:
            data = layer.decompress(data, limit + 1)
            if layer.over():  # more output pending than the cap allows
                return data + b"\0" * (limit + 1 - len(data) if len(data) <= limit else 0)
        return data

    def truncated(self) -> bool:
        return any(layer.truncated() for layer in self.layers)
