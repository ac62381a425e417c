"""Validation errors of the config files as one `file: field: message` line each, in the config's own words."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from feeds.errors import did_you_mean


def fmt(file: Path, loc: tuple[int | str, ...], msg: str) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return f"{file}: {where or '(top)'}: {msg}"


def pydantic_lines(file: Path, err: ValidationError, model: type[BaseModel] | None = None,
                   prefix: tuple[int | str, ...] = ()) -> list[str]:
    """One line per error. An unknown key names the keys known there (and the one it resembles); pydantic's
    "Value error, " preamble is dropped: the message after it is ours."""
    out = []
    for e in err.errors():
        loc = tuple(e["loc"])
        msg = str(e["msg"])
        if e["type"] == "extra_forbidden":
            known = _keys_at(model, loc[:-1]) if model is not None else None
            msg = "unknown field"
            if known:
                msg += did_you_mean(str(loc[-1]), known, n=1, cutoff=0.6) + f" (known: {', '.join(known)})"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        out.append(fmt(file, prefix + loc, msg))
    return out


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    """The field names of the model reached by following `loc` from `model`, or None if it leads elsewhere."""
    ann: Any = model
    for part in loc:
        ann = _step(ann, part)
        if ann is None:
            return None
    target = _model_in(ann)
    return sorted(f.alias or name for name, f in target.model_fields.items()) if target else None


def _step(ann: Any, part: int | str) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        field = ann.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    for arg in args:  # Optional[X], X | None, unions: the first that leads somewhere
        got = _step(arg, part)
        if got is not None:
            return got
    return None


def _model_in(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        got = _model_in(arg)
        if got is not None:
            return got
    return None
