"""What a sink is: the config fields every sink shares (routing), the sender protocol, and the registry of
sink types (each module of workers/alerts/sinks/ registers its own)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from feeds.alerts.digest import Digest, Notice
from feeds.errors import InvalidInput
from feeds.models import Alert, Severity
from workers.config.routing import DigestSchedule, QuietHours, Throttle


class SinkConfigBase(BaseModel):
    """Fields of every sink's config: a minimum severity and how its alerts are paced (docs/alerts.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    min_severity: Severity = "low"
    # Send at once or collect into a digest; quiet hours; at most `throttle.max` immediate alerts per
    # watch per `throttle.per`, the rest into the digest.
    mode: Literal["immediate", "digest"] = "immediate"
    digest: DigestSchedule | None = None
    quiet_hours: QuietHours | None = None
    throttle: Throttle | None = None


class Parts(Protocol):
    """Which parts of one alert's delivery are done (a sink that sends to several services marks each), so a
    retry after a partial failure sends only to the services that did not get it."""

    def done(self, part: str) -> bool: ...

    def mark(self, part: str) -> None: ...


class Sink(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def config(self) -> Any: ...

    def send(self, alert: Alert, parts: Parts | None = None) -> None:
        """Deliver or raise Transient (retry, maybe after retry_after) / Permanent (give up)."""

    def send_digest(self, digest: Digest) -> None:
        """Deliver a digest; same errors as `send`."""

    def send_notice(self, notice: Notice) -> None:
        """Deliver a notice ("N more in digest", spike, ops); same errors as `send`."""


@dataclass(frozen=True)
class SinkType:
    """One `type:` of sink: its config model, how to build its sender, which fields left empty (an unset
    ${VAR}) mean "not configured here", and whether it shows follow-ups ("also reported by …")."""

    name: str
    config: type[SinkConfigBase]
    build: Callable[[str, Any], Sink]
    required: tuple[str, ...] = ()
    follow_ups: bool = False


_TYPES: dict[str, SinkType] = {}


def register(kind: SinkType) -> SinkType:
    if kind.name in _TYPES:
        raise ValueError(f"sink type {kind.name!r} registered twice")
    _TYPES[kind.name] = kind
    return kind


def get(name: str) -> SinkType:
    try:
        return _TYPES[name]
    except KeyError:
        raise InvalidInput(f"unknown sink type {name!r} (known: {', '.join(sorted(_TYPES))})") from None


def names() -> list[str]:
    return sorted(_TYPES)


def validate(raw: Mapping[str, Any]) -> SinkConfigBase:
    """A sink's config from its mapping in marsad.yaml, by its `type` (InvalidInput / ValidationError)."""
    return get(str(raw.get("type", ""))).config.model_validate(raw)


def build_sink(sink_id: str, config: SinkConfigBase) -> Sink:
    """The sender for a validated sink config."""
    return get(config.type).build(sink_id, config)


def follows(config: SinkConfigBase | None) -> bool:
    """Whether the sink shows follow-ups: a type that does, sending immediately (digests list outlets anyway)."""
    return config is not None and config.mode == "immediate" and get(config.type).follow_ups
