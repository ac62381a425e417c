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
DEFAULT_DATA_DIR = "../var"
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


def embedded_url(data_dir: Path) -> str:
    """Where `marsad up` puts its embedded Redis: a unix socket in data_dir (no TCP port at all)."""
    return f"unix://{data_dir / 'redis' / 'redis.sock'}"


def data_dir(path: Path, raw: dict[str, Any], env: Mapping[str, str]) -> Path:
    return (path.parent / str(expand_env(raw.get("data_dir"), env) or DEFAULT_DATA_DIR)).resolve()


def configured_redis_url(raw: dict[str, Any], env: Mapping[str, str]) -> str | None:
    """MARSAD_REDIS_URL wins (`marsad up` sets it for its worker), then the config's redis_url; None: embedded."""
    return env.get("MARSAD_REDIS_URL") or str(expand_env(raw.get("redis_url"), env) or "") or None


def broker_url(path: Path | None = None) -> str:
    """The Redis every command uses, read before the config is validated (the Celery app is built at import;
    `marsad check` validates): the configured one, else the embedded one's socket in data_dir."""
    path = path or config_path()
    raw = _raw(path)
    return configured_redis_url(raw, os.environ) or embedded_url(data_dir(path, raw, os.environ))


def schedule_value(key: str, default: Any, path: Path | None = None) -> Any:
    """One `schedule:` setting read straight from the YAML, for the same reason as `broker_url`."""
    block = _raw(path).get("schedule") or {}
    value = block.get(key, default) if isinstance(block, dict) else default
    try:
        return default if value is None else float(value)
    except (TypeError, ValueError):
        return default
