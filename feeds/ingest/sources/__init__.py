"""Source kinds, one module each (rss.py today): importing this package registers every module in it, so a new
kind is one new file. `get(name)` gives a kind's parser and Accept header."""

from __future__ import annotations

import importlib
import pkgutil

from feeds.ingest.sources.base import SourceKind, get, names, register

__all__ = ["SourceKind", "get", "names", "register"]

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
