"""Small value types shared by the config models: durations, byte sizes, URLs, slugs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from actwatch.core.emails import EmailError, check_email

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def _parse_duration(value: object) -> object:
    """Accept `90`, `90s`, `15m`, `1h`, `2d`: an editor should not have to count seconds."""
    if isinstance(value, timedelta | bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _DURATION_UNITS[match[2]])
    raise ValueError("not a duration (use e.g. 30s, 15m, 1h, 2d)")


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    None: 1,
}


def _parse_size(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            unit = match[2].lower() if match[2] else None
            return int(float(match[1]) * _SIZE_UNITS[unit])
    raise ValueError("not a size (use e.g. 500KB, 10MB)")


ByteSize = Annotated[int, BeforeValidator(_parse_size), Field(gt=0)]


def _check_http_url(value: object) -> object:
    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if parts.scheme in ("http", "https") and parts.hostname:
            return value.strip()
    raise ValueError("not an http(s) URL")


HttpURL = Annotated[str, BeforeValidator(_check_http_url)]


def _check_email(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("not an email address")
    try:
        return check_email(value)
    except EmailError as exc:
        raise ValueError(f"not an email address: {exc}") from None


Email = Annotated[str, BeforeValidator(_check_email)]


class StrictModel(BaseModel):
    """Unknown keys are mistakes (a misspelt `cue` must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
