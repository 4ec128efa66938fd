"""Reading OTLP/JSON values as the official Collector reads them (shared by all signals).

Ids as hex (any case), keys in lowerCamelCase or snake_case, enums as integers or names,
64-bit integers as numbers or decimal strings; unknown fields are ignored. Every reader
takes the JSON path of the value, so a structural error names exactly what is wrong.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from collector.decoded import finite
from collector.errors import InvalidPayload
from collector.limits import PLAIN, Cutter, Reading
from collector.spans import Attributes, Resource, Scope


class _TooDeep(Exception):
    """Raised past the depth limit; :func:`any_value` turns it into InvalidPayload."""


def document(body: bytes) -> dict[str, Any]:
    """The request's top-level JSON object."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidPayload(f"body is not valid JSON: {error}") from None
    return as_object(parsed, "$")


def count_items(root: dict[str, Any], *levels: tuple[str, ...]) -> int:
    """How many items the request holds at ``levels`` (each a field's spellings), e.g.
    resourceSpans -> scopeSpans -> spans; what is not an array is skipped here and
    refused by the decoder, with its path."""
    items: list[Any] = [root]
    for names in levels:
        found: list[Any] = []
        for item in items:
            if isinstance(item, dict):
                value = field(item, *names)
                if isinstance(value, list):
                    found += value
        items = found
    return len(items)


def resource_of(group: dict[str, Any], path: str, reading: Reading = PLAIN) -> Resource:
    """The resource of a resourceSpans or resourceLogs object at ``path``; ``reading``:
    how its values are read (see :func:`any_value`)."""
    holder = as_object(field(group, "resource") or {}, f"{path}.resource")
    return Resource(
        attributes=attributes(holder, f"{path}.resource", reading),
        schema_url=string(group, path, "schemaUrl", "schema_url"),
        dropped_attributes_count=uint(
            holder, path, "droppedAttributesCount", "dropped_attributes_count"
        ),
    )


def scope_of(group: dict[str, Any], path: str, reading: Reading = PLAIN) -> Scope:
    """The instrumentation scope of a scopeSpans or scopeLogs object at ``path``."""
    holder = as_object(field(group, "scope") or {}, f"{path}.scope")
    return Scope(
        name=string(holder, path, "name"),
        version=string(holder, path, "version"),
        attributes=attributes(holder, f"{path}.scope", reading),
    )


def attributes(holder: dict[str, Any], path: str, reading: Reading = PLAIN) -> Attributes:
    result: Attributes = {}
    for i, kv in enumerate(array(holder, path, "attributes")):
        key, value = _key_value(kv, f"{path}.attributes[{i}]")
        result[key] = any_value(value, f"{path}.attributes[{i}].value", reading)
    return result


def _key_value(kv: Any, path: str) -> tuple[str, Any]:
    kv = as_object(kv, path)
    key = field(kv, "key")
    if not isinstance(key, str):
        raise InvalidPayload(f"{path}.key: expected a string")
    return key, field(kv, "value")


_VALUE_KEYS = (
    ("stringValue", "string_value"),
    ("boolValue", "bool_value"),
    ("intValue", "int_value"),
    ("doubleValue", "double_value"),
    ("arrayValue", "array_value"),
    ("kvlistValue", "kvlist_value"),
    ("bytesValue", "bytes_value"),
)


def any_value(value: Any, path: str, reading: Reading = PLAIN) -> Any:
    """The plain Python value of an AnyValue, its strings cut as ``reading`` says. One
    nested more than ``reading.depth`` levels refuses the request, naming where the value
    starts: the path of its deepest level would run to kilobytes."""
    try:
        return _any_value(value, path, reading.depth, reading.cut)
    except _TooDeep:
        raise InvalidPayload(
            f"{path}: arrayValue/kvlistValue nested more than {reading.depth} levels deep "
            "(REASONLENS_MAX_VALUE_DEPTH)"
        ) from None


def _any_value(value: Any, path: str, room: int, cut: Cutter | None) -> Any:
    """``room``: how many more arrayValue/kvlistValue levels may open inside ``value``."""
    if value is None:
        return None
    value = as_object(value, path)
    for camel, snake in _VALUE_KEYS:
        item = value.get(camel, value.get(snake))
        if item is None:
            continue
        if camel == "stringValue" or camel == "bytesValue":
            if not isinstance(item, str):
                raise InvalidPayload(f"{path}.{camel}: expected a string")
            return item if cut is None or len(item) <= cut.quick else cut.text(item)
        if camel == "boolValue":
            if not isinstance(item, bool):
                raise InvalidPayload(f"{path}.{camel}: expected true or false")
            return item
        if camel == "intValue":
            return to_int(item, f"{path}.{camel}", signed=True)
        if camel == "doubleValue":
            return to_float(item, f"{path}.{camel}")
        if not room:
            raise _TooDeep
        values = array(as_object(item, f"{path}.{camel}"), f"{path}.{camel}", "values")
        values_path = f"{path}.{camel}.values"
        if camel == "arrayValue":
            return [
                _any_value(v, f"{values_path}[{i}]", room - 1, cut) for i, v in enumerate(values)
            ]
        result: Attributes = {}
        for i, kv in enumerate(values):
            key, item_value = _key_value(kv, f"{values_path}[{i}]")
            result[key] = _any_value(item_value, f"{values_path}[{i}].value", room - 1, cut)
        return result
    return None


def hex_id(value: Any, size: int) -> str | None:
    """Lowercase hex of a valid non-zero id, or None (absent, wrong length, not hex).

    bytes.fromhex() skips whitespace: the decoded length, not the text's, proves that
    the id is exactly ``2 * size`` hex digits.
    """
    if not isinstance(value, str) or len(value) != size * 2:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw.hex() if len(raw) == size and any(raw) else None


def field(holder: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = holder.get(name)
        if value is not None:
            return value
    return None


def as_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def array(holder: dict[str, Any], path: str, *names: str) -> list[Any]:
    value = field(holder, *names)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{path}.{names[0]}: expected a JSON array")
    return value


def string(holder: dict[str, Any], path: str, *names: str) -> str:
    value = field(holder, *names)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"{path}.{names[0]}: expected a string")
    return value


def uint(holder: dict[str, Any], path: str, *names: str) -> int:
    value = field(holder, *names)
    return 0 if value is None else to_int(value, f"{path}.{names[0]}", signed=False)


# A decimal string as the Collector's strconv.ParseInt takes it: ASCII digits and an
# optional minus (an unsigned field then refuses a negative in the range check), and
# here also JSON whitespace around it.
_DECIMAL = re.compile(r"[ \t\n\r]*-?[0-9]+[ \t\n\r]*")


def to_int(value: Any, path: str, *, signed: bool) -> int:
    """A 64-bit integer from a JSON number or decimal string, else InvalidPayload.

    Not str.isdigit() nor a bare int(): both take any Unicode digit ("²" passes
    isdigit() and then fails int(); Arabic-Indic "١٢٣" is 123 to int()).
    """
    if isinstance(value, bool):
        raise InvalidPayload(f"{path}: expected an integer, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        # The common case, a timestamp in plain digits, costs two C calls, no regex.
        if not (value.isascii() and (value.isdigit() or _DECIMAL.fullmatch(value))):
            raise InvalidPayload(f"{path}: expected an integer, got {value!r:.40}")
        try:
            number = int(value)
        except ValueError:  # past int()'s limit of 4300 digits
            raise InvalidPayload(
                f"{path}: {value.strip():.40}... is out of the 64-bit range"
            ) from None
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise InvalidPayload(f"{path}: expected an integer, got {value!r:.40}")
    low, high = (-(1 << 63), (1 << 63) - 1) if signed else (0, (1 << 64) - 1)
    if not low <= number <= high:
        raise InvalidPayload(f"{path}: {number!s:.40} is out of the 64-bit range")
    return number


def to_float(value: Any, path: str) -> float | str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return finite(float(value))
    if isinstance(value, str):
        try:
            return finite(float(value))
        except ValueError:
            pass
    raise InvalidPayload(f"{path}: expected a number, got {value!r:.40}")


def enum(
    holder: dict[str, Any], path: str, names: dict[str, int], key: str, *, signed: bool = False
) -> int:
    """An enum given by name or number. ``signed`` where a negative number is for the
    caller to judge (as protobuf, whose enums are int32, would pass it on)."""
    value = holder.get(key)
    if value is None:
        return 0
    if isinstance(value, str):
        if value in names:
            return names[value]
        raise InvalidPayload(f"{path}.{key}: unknown value {value!r:.60}")
    return to_int(value, f"{path}.{key}", signed=signed)
