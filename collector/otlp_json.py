"""Reading OTLP/JSON values as the official Collector reads them (shared by all signals).

Ids as hex (any case), keys in lowerCamelCase or snake_case, enums as integers or names,
64-bit integers as numbers or decimal strings; unknown fields are ignored. Every reader
takes the JSON path of the value, so a structural error names exactly what is wrong.
"""

from __future__ import annotations

from typing import Any

from collector.decoded import finite
from collector.errors import InvalidPayload
from collector.spans import Attributes


def attributes(holder: dict[str, Any], path: str) -> Attributes:
    result: Attributes = {}
    for i, kv in enumerate(array(holder, path, "attributes")):
        kv = as_object(kv, f"{path}.attributes[{i}]")
        key = field(kv, "key")
        if not isinstance(key, str):
            raise InvalidPayload(f"{path}.attributes[{i}].key: expected a string")
        result[key] = any_value(field(kv, "value"), f"{path}.attributes[{i}].value")
    return result


_VALUE_KEYS = (
    ("stringValue", "string_value"),
    ("boolValue", "bool_value"),
    ("intValue", "int_value"),
    ("doubleValue", "double_value"),
    ("arrayValue", "array_value"),
    ("kvlistValue", "kvlist_value"),
    ("bytesValue", "bytes_value"),
)


def any_value(value: Any, path: str) -> Any:
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
            return item
        if camel == "boolValue":
            if not isinstance(item, bool):
                raise InvalidPayload(f"{path}.{camel}: expected true or false")
            return item
        if camel == "intValue":
            return to_int(item, f"{path}.{camel}", signed=True)
        if camel == "doubleValue":
            return to_float(item, f"{path}.{camel}")
        values = array(as_object(item, f"{path}.{camel}"), f"{path}.{camel}", "values")
        if camel == "arrayValue":
            return [any_value(v, f"{path}.{camel}.values[{i}]") for i, v in enumerate(values)]
        return attributes({"attributes": values}, f"{path}.{camel}")
    return None


def hex_id(value: Any, size: int) -> str | None:
    """Lowercase hex of a valid non-zero id, or None (absent, wrong length, not hex)."""
    if not isinstance(value, str) or len(value) != size * 2:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw.hex() if any(raw) else None


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


def to_int(value: Any, path: str, *, signed: bool) -> int:
    if isinstance(value, bool):
        raise InvalidPayload(f"{path}: expected an integer, got a boolean")
    if isinstance(value, int):
        number = value
    elif (isinstance(value, str) and value.strip().lstrip("-").isdigit()) or (
        isinstance(value, float) and value.is_integer()
    ):
        number = int(value)
    else:
        raise InvalidPayload(f"{path}: expected an integer, got {value!r:.40}")
    low, high = (-(1 << 63), (1 << 63) - 1) if signed else (0, (1 << 64) - 1)
    if not low <= number <= high:
        raise InvalidPayload(f"{path}: {number} is out of the 64-bit range")
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


def enum(holder: dict[str, Any], path: str, names: dict[str, int], key: str) -> int:
    value = holder.get(key)
    if value is None:
        return 0
    if isinstance(value, str):
        if value in names:
            return names[value]
        raise InvalidPayload(f"{path}.{key}: unknown value {value!r:.60}")
    return to_int(value, f"{path}.{key}", signed=False)
