"""Times as users write them: ISO 8601, nanoseconds, or an age such as 24h (API, suites)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BadParameter(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def time_ns(name: str, value: str | None, *, now_ns: int | None = None) -> int | None:
    """ISO 8601 (naive means UTC), nanoseconds since the epoch, or an age such as 24h."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _bounded(name, int(text))
    relative = _RELATIVE.match(text)
    if relative:
        now = time.time_ns() if now_ns is None else now_ns
        return _bounded(name, now - _span_ns(name, relative))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(
            name,
            f"{value!r} is not a time: use ISO 8601 (2026-11-21T10:00:00Z), "
            "nanoseconds since the epoch, or an age such as 15m, 24h, 7d",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def duration_ns(name: str, value: str) -> int:
    """A length of time such as 90s, 2m, 24h, 7d, in nanoseconds."""
    relative = _RELATIVE.match(value)
    if relative is None:
        raise BadParameter(name, f"{value!r} is not a duration: use e.g. 30s, 2m, 24h, 7d")
    return _bounded(name, _span_ns(name, relative))


# Times are stored as signed 64-bit nanoseconds (until the year 2262).
_MAX_NS = 2**63 - 1


def _span_ns(name: str, relative: re.Match[str]) -> int:
    seconds = float(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    if not seconds * 1e9 < _MAX_NS:  # also catches an amount too long to be a float
        raise BadParameter(
            name, f"{relative.group(0).strip()[:40]!r} is longer than reasonlens counts"
        )
    return int(seconds * 1_000_000_000)


def _bounded(name: str, ns: int) -> int:
    if not -_MAX_NS <= ns <= _MAX_NS:
        raise BadParameter(name, "out of range: times are kept until the year 2262")
    return ns
