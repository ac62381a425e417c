"""Environment and units: ${VAR} expansion, the one duration parser, and the few values read before validation."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator

from feeds import yamlfile

DEFAULT_CONFIG = Path("config/marsad.yaml")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> float:
    """'90s', '5m', '2h', '1d' or a number of seconds → seconds (> 0)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        out = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 5m, 2h, 1d)")
        out = float(m.group(1)) * _UNITS[m.group(2)]
    if out <= 0:
        raise ValueError("must be longer than zero")
    return out


# A config field holding a duration: written "30m" or 1800, held as seconds.
Duration = Annotated[float, BeforeValidator(parse_duration)]


def expand_env(value: Any, env: Mapping[str, str]) -> Any:
    """Expand ${VAR} and ${VAR:-default} in every string of a parsed YAML tree; unset → ''."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    return value


def config_path() -> Path:
    return Path(os.environ.get("MARSAD_CONFIG") or DEFAULT_CONFIG).resolve()


def _raw(path: Path | None) -> dict[str, Any]:
    try:
        raw = yamlfile.loads((path or config_path()).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}


def broker_url(path: Path | None = None) -> str:
    """MARSAD_REDIS_URL (set by `marsad up` for the embedded server) wins, then the config's redis_url.
    Read before the config is validated: the Celery app is built at import (`marsad check` validates)."""
    url = os.environ.get("MARSAD_REDIS_URL")
    if url:
        return url
    return str(expand_env(_raw(path).get("redis_url"), os.environ) or "redis://127.0.0.1:6379/0")


def schedule_value(key: str, default: Any, path: Path | None = None) -> Any:
    """One `schedule:` setting read straight from the YAML, for the same reason as `broker_url`."""
    block = _raw(path).get("schedule") or {}
    value = block.get(key, default) if isinstance(block, dict) else default
    try:
        return default if value is None else float(value)
    except (TypeError, ValueError):
        return default
