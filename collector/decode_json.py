"""OTLP/JSON -> :class:`RawSpan`, read as the official Collector reads it.

Not protobuf's ``json_format``: it silently takes hex ids for base64 and yields 24-byte
trace ids (SEMCONV.md 1.7). This decoder takes ids as hex (any case), keys in
lowerCamelCase or snake_case, enums as integers or names, and 64-bit integers as
numbers or decimal strings; unknown fields are ignored. A structural error (a span that
is not an object, a timestamp that is not a number) refuses the whole request with the
JSON path of the offending value; an invalid id refuses only its span.
"""

from __future__ import annotations

from typing import Any

import orjson

from collector.decoded import Decoded, finite, span_problem
from collector.errors import InvalidPayload
from collector.spans import Attributes, RawSpan, Resource, Scope

SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def decode_json(body: bytes) -> Decoded:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidPayload(f"body is not valid JSON: {error}") from None
    decoded = Decoded()
    root = _object(document, "$")
    for i, resource_spans in enumerate(_list(root, "$", "resourceSpans", "resource_spans")):
        path = f"$.resourceSpans[{i}]"
        resource_spans = _object(resource_spans, path)
        pb_resource = _object(_get(resource_spans, "resource") or {}, f"{path}.resource")
        resource = Resource(
            attributes=_attributes(pb_resource, f"{path}.resource"),
            schema_url=_str(resource_spans, path, "schemaUrl", "schema_url"),
            dropped_attributes_count=_int(
                pb_resource, path, "droppedAttributesCount", "dropped_attributes_count"
            ),
        )
        for j, scope_spans in enumerate(_list(resource_spans, path, "scopeSpans", "scope_spans")):
            scope_path = f"{path}.scopeSpans[{j}]"
            scope_spans = _object(scope_spans, scope_path)
            pb_scope = _object(_get(scope_spans, "scope") or {}, f"{scope_path}.scope")
            scope = Scope(
                name=_str(pb_scope, scope_path, "name"),
                version=_str(pb_scope, scope_path, "version"),
                attributes=_attributes(pb_scope, f"{scope_path}.scope"),
            )
            for k, span in enumerate(_list(scope_spans, scope_path, "spans")):
                _span(
                    decoded,
                    _object(span, f"{scope_path}.spans[{k}]"),
                    f"{scope_path}.spans[{k}]",
                    resource,
                    scope,
                )
    return decoded


def _span(
    decoded: Decoded, span: dict[str, Any], path: str, resource: Resource, scope: Scope
) -> None:
    trace_id = _hex_id(_get(span, "traceId", "trace_id"), 16)
    span_id = _hex_id(_get(span, "spanId", "span_id"), 8)
    start = _int(span, path, "startTimeUnixNano", "start_time_unix_nano")
    end = _int(span, path, "endTimeUnixNano", "end_time_unix_nano")
    problem = span_problem(trace_id, span_id, start, end)
    if problem is not None or trace_id is None or span_id is None:
        decoded.reject(problem or "invalid id")
        return
    status = _object(_get(span, "status") or {}, f"{path}.status")
    decoded.spans.append(
        RawSpan(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=_hex_id(_get(span, "parentSpanId", "parent_span_id"), 8),
            name=_str(span, path, "name"),
            otel_kind=_enum(span, path, SPAN_KINDS, "kind"),
            start_time_ns=start,
            end_time_ns=end,
            attributes=_attributes(span, path),
            resource=resource,
            scope=scope,
            status_code=_enum(status, f"{path}.status", STATUS_CODES, "code"),
            status_message=_str(status, f"{path}.status", "message"),
            trace_state=_str(span, path, "traceState", "trace_state"),
            flags=_int(span, path, "flags"),
            events=[
                _event(_object(e, f"{path}.events[{i}]"), f"{path}.events[{i}]")
                for i, e in enumerate(_list(span, path, "events"))
            ],
            links=[
                _link(_object(link, f"{path}.links[{i}]"), f"{path}.links[{i}]")
                for i, link in enumerate(_list(span, path, "links"))
            ],
            dropped_attributes_count=_int(
                span, path, "droppedAttributesCount", "dropped_attributes_count"
            ),
            dropped_events_count=_int(span, path, "droppedEventsCount", "dropped_events_count"),
            dropped_links_count=_int(span, path, "droppedLinksCount", "dropped_links_count"),
        )
    )


def _event(event: dict[str, Any], path: str) -> dict[str, Any]:
    return {
        "name": _str(event, path, "name"),
        "time_unix_nano": _int(event, path, "timeUnixNano", "time_unix_nano"),
        "attributes": _attributes(event, path),
        "dropped_attributes_count": _int(
            event, path, "droppedAttributesCount", "dropped_attributes_count"
        ),
    }


def _link(link: dict[str, Any], path: str) -> dict[str, Any]:
    return {
        "trace_id": _hex_id(_get(link, "traceId", "trace_id"), 16) or "",
        "span_id": _hex_id(_get(link, "spanId", "span_id"), 8) or "",
        "trace_state": _str(link, path, "traceState", "trace_state"),
        "attributes": _attributes(link, path),
        "flags": _int(link, path, "flags"),
        "dropped_attributes_count": _int(
            link, path, "droppedAttributesCount", "dropped_attributes_count"
        ),
    }


def _attributes(holder: dict[str, Any], path: str) -> Attributes:
    result: Attributes = {}
    for i, kv in enumerate(_list(holder, path, "attributes")):
        kv = _object(kv, f"{path}.attributes[{i}]")
        key = _get(kv, "key")
        if not isinstance(key, str):
            raise InvalidPayload(f"{path}.attributes[{i}].key: expected a string")
        result[key] = _any_value(_get(kv, "value"), f"{path}.attributes[{i}].value")
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


def _any_value(value: Any, path: str) -> Any:
    if value is None:
        return None
    value = _object(value, path)
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
            return _to_int(item, f"{path}.{camel}", signed=True)
        if camel == "doubleValue":
            return _to_float(item, f"{path}.{camel}")
        values = _list(_object(item, f"{path}.{camel}"), f"{path}.{camel}", "values")
        if camel == "arrayValue":
            return [_any_value(v, f"{path}.{camel}.values[{i}]") for i, v in enumerate(values)]
        return _attributes({"attributes": values}, f"{path}.{camel}")
    return None


def _hex_id(value: Any, size: int) -> str | None:
    """Lowercase hex of a valid non-zero id, or None (absent, wrong length, not hex)."""
    if not isinstance(value, str) or len(value) != size * 2:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw.hex() if any(raw) else None


def _get(holder: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = holder.get(name)
        if value is not None:
            return value
    return None


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _list(holder: dict[str, Any], path: str, *names: str) -> list[Any]:
    value = _get(holder, *names)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{path}.{names[0]}: expected a JSON array")
    return value


def _str(holder: dict[str, Any], path: str, *names: str) -> str:
    value = _get(holder, *names)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"{path}.{names[0]}: expected a string")
    return value


def _int(holder: dict[str, Any], path: str, *names: str) -> int:
    value = _get(holder, *names)
    return 0 if value is None else _to_int(value, f"{path}.{names[0]}", signed=False)


def _to_int(value: Any, path: str, *, signed: bool) -> int:
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


def _is_integral(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().removeprefix("-").isdigit()
    return isinstance(value, float) and value.is_integer()


def _to_float(value: Any, path: str) -> float | str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return finite(float(value))
    if isinstance(value, str):
        try:
            return finite(float(value))
        except ValueError:
            pass
    raise InvalidPayload(f"{path}: expected a number, got {value!r:.40}")


def _enum(holder: dict[str, Any], path: str, names: dict[str, int], key: str) -> int:
    value = holder.get(key)
    if value is None:
        return 0
    if isinstance(value, str):
        if value in names:
            return names[value]
        raise InvalidPayload(f"{path}.{key}: unknown value {value!r:.60}")
    return _to_int(value, f"{path}.{key}", signed=False)
