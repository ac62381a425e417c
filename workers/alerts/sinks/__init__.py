"""Alert sinks, one module per type (slack, email, webhook, log, apprise): importing this package registers
every module in it, so a new sink type is one file here (and its renderer in feeds/alerts/render/)."""

from __future__ import annotations

import importlib
import pkgutil

from workers.alerts.sinks.base import (
    Sink,
    SinkConfigBase,
    SinkType,
    build_sink,
    follows,
    get,
    names,
    register,
    validate,
)

__all__ = ["Sink", "SinkConfigBase", "SinkType", "build_sink", "follows", "get", "names", "register", "validate"]

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "http"):
        importlib.import_module(f"{__name__}.{_module.name}")
