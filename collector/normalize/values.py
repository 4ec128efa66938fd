"""Coercion of attribute values into the types the canonical fields hold.

Clients send whatever their SDK produced: a token count as ``"42"``, a model name as an
int, a message list as a JSON string or as a structured array, occasionally garbage.
Every reader here returns ``None`` for a value it cannot use instead of raising, so that
the rule tables can fall through to the next candidate ("first usable value wins",
SEMCONV 6.0.4) and a hostile span can never fail a batch.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

import orjson

# Column types in the store are 64-bit; anything larger is not a count anyone meant.
_INT64_MAX = 2**63 - 1
# Nor is a token count over a trillion (a thousand times the longest context windows);
# the bound keeps sums (a trace's tokens, input plus cached) inside a 64-bit column.
MAX_COUNT = 10**12
# Numeric strings longer than this are not counts or scores; parsing them is wasted work
# (and CPython refuses int() on more than 4,300 digits anyway).
_MAX_NUMERIC_CHARS = 40
# Last-resort rendering for values even the JSON encoders refuse (cycles cannot occur in
# decoded OTLP, but nesting thousands deep can): bounded depth and length, never raises.
_SAFE_REPR = reprlib.Repr()
_SAFE_REPR.maxlevel = 6
_SAFE_REPR.maxstring = 2000
_SAFE_REPR.maxother = 200
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def usable(value: Any) -> bool:
    """The "meaningful value" test: present and not ``""``, ``{}``, ``[]`` or ``null``."""
    if value is None:
        return False
    if type(value) in (str, list, dict, tuple):
        return len(value) > 0
    return True


def parse_json(value: Any) -> Any:
    """Decode ``value`` if it is a string holding a JSON object or array; else return it.

    Only strings that start with ``{`` or ``[`` are tried, so plain prose (and numbers,
    which are handled by :func:`as_int`/:func:`as_float`) never pays for a failed parse.
    A string that looks like JSON but is not stays the raw string (SEMCONV 6.0.2).
    """
    if type(value) is not str:
        return value
    head = value.lstrip()[:1]
    if head != "{" and head != "[":
        return value
    try:
        return orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return value


def as_str(value: Any) -> str | None:
    """A non-empty string; numbers are rendered (a model named ``4`` is still a name)."""
    kind = type(value)
    if kind is str:
        return value or None
    if kind is int:
        return str(value) if -_INT64_MAX <= value <= _INT64_MAX else None
    if kind is float:
        return repr(value) if math.isfinite(value) else None
    return None


def as_int(value: Any) -> int | None:
    """A non-negative count up to :data:`MAX_COUNT`, from an int, float or numeric string."""
    kind = type(value)
    if kind is int:
        return value if 0 <= value <= MAX_COUNT else None
    if kind is float:
        if math.isfinite(value) and value.is_integer() and 0 <= value <= MAX_COUNT:
            return int(value)
        return None
    if kind is str and 0 < len(value) <= _MAX_NUMERIC_CHARS:
        try:
            return as_int(int(value))
        except ValueError:
            try:
                return as_int(float(value))
            except ValueError:
                return None
    return None


def as_float(value: Any) -> float | None:
    """A finite float from an int, float or numeric string (never from a bool)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value) if -_INT64_MAX <= value <= _INT64_MAX else None
    if kind is str and 0 < len(value) <= _MAX_NUMERIC_CHARS:
        try:
            return as_float(float(value))
        except ValueError:
            return None
    return None


def as_cost(value: Any) -> float | None:
    """A cost in USD: a finite, non-negative float."""
    number = as_float(value)
    return number if number is not None and number >= 0 else None


def to_json_text(value: Any) -> str:
    """Render a structured value as JSON text, degrading rather than raising.

    orjson handles the common case in C; it refuses nesting deeper than 254 levels and
    integers beyond 64 bits, so the stdlib encoder and then a bounded repr take over.
    """
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except (TypeError, ValueError):
        pass
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return _SAFE_REPR.repr(value)


def as_text(value: Any) -> str | None:
    """Display text: a string as sent, anything structured as JSON text."""
    if type(value) is str:
        return value or None
    if not usable(value):
        return None
    return to_json_text(value)


def as_str_list(value: Any) -> list[str] | None:
    """A list of non-empty strings from a list, a single string or a JSON array string."""
    value = parse_json(value)
    if type(value) is str:
        return [value] if value else None
    if type(value) not in (list, tuple):
        return None
    items = [text for item in value if (text := as_str(item)) is not None]
    return items or None


def json_object(value: Any) -> dict[str, Any] | None:
    """A dict from a dict or a JSON object string; anything else is ``None``."""
    value = parse_json(value)
    return value if type(value) is dict else None
