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

from collector.decoded import Decoded, span_problem
from collector.limits import DEFAULT_LIMITS, Limits, Reading, check_count, reading_for
from collector.otlp_json import (
    array,
    as_object,
    attributes,
    count_items,
    document,
    enum,
    field,
    hex_id,
    resource_of,
    scope_of,
    string,
    uint,
)
from collector.spans import RawSpan, Resource, Scope

SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


_SPANS = (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",))


def decode_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> Decoded:
    """``limits``: spans per request (counted first) and the nesting of values."""
    root = document(body)
    check_count(count_items(root, *_SPANS), limits, "span")
    reading = reading_for(limits, len(body))
    decoded = Decoded(cutter=reading.cut)
    for i, resource_spans in enumerate(array(root, "$", "resourceSpans", "resource_spans")):
        path = f"$.resourceSpans[{i}]"
        resource_spans = as_object(resource_spans, path)
        resource = resource_of(resource_spans, path, reading)
        for j, scope_spans in enumerate(array(resource_spans, path, "scopeSpans", "scope_spans")):
            scope_path = f"{path}.scopeSpans[{j}]"
            scope_spans = as_object(scope_spans, scope_path)
            scope = scope_of(scope_spans, scope_path, reading)
            for k, span in enumerate(array(scope_spans, scope_path, "spans")):
                _span(
                    decoded,
                    as_object(span, f"{scope_path}.spans[{k}]"),
                    f"{scope_path}.spans[{k}]",
                    resource,
                    scope,
                    reading,
                )
    return decoded


def _span(
    decoded: Decoded,
    span: dict[str, Any],
    path: str,
    resource: Resource,
    scope: Scope,
    reading: Reading,
) -> None:
    trace_id = hex_id(field(span, "traceId", "trace_id"), 16)
    span_id = hex_id(field(span, "spanId", "span_id"), 8)
    start = uint(span, path, "startTimeUnixNano", "start_time_unix_nano")
    end = uint(span, path, "endTimeUnixNano", "end_time_unix_nano")
    # Enums read signed: a number out of range spoils its span (span_problem), as it
    # does in protobuf, whose enums are int32, instead of the whole request.
    kind = enum(span, path, SPAN_KINDS, "kind", signed=True)
    status = as_object(field(span, "status") or {}, f"{path}.status")
    code = enum(status, f"{path}.status", STATUS_CODES, "code", signed=True)
    flags = uint(span, path, "flags")
    dropped_attributes = uint(span, path, "droppedAttributesCount", "dropped_attributes_count")
    dropped_events = uint(span, path, "droppedEventsCount", "dropped_events_count")
    dropped_links = uint(span, path, "droppedLinksCount", "dropped_links_count")
    problem = span_problem(
        trace_id, span_id, start, end, kind, code, flags,
        dropped_attributes | dropped_events | dropped_links,
    )  # fmt: skip
    if problem is not None or trace_id is None or span_id is None:
        decoded.reject(problem or "invalid id")
        return
    decoded.spans.append(
        RawSpan(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=hex_id(field(span, "parentSpanId", "parent_span_id"), 8),
            name=string(span, path, "name"),
            otel_kind=kind,
            start_time_ns=start,
            end_time_ns=end,
            attributes=attributes(span, path, reading),
            resource=resource,
            scope=scope,
            status_code=code,
            status_message=string(status, f"{path}.status", "message"),
            trace_state=string(span, path, "traceState", "trace_state"),
            flags=flags,
            events=[
                _event(as_object(e, f"{path}.events[{i}]"), f"{path}.events[{i}]", reading)
                for i, e in enumerate(array(span, path, "events"))
            ],
            links=[
                _link(as_object(link, f"{path}.links[{i}]"), f"{path}.links[{i}]", reading)
                for i, link in enumerate(array(span, path, "links"))
            ],
            dropped_attributes_count=dropped_attributes,
            dropped_events_count=dropped_events,
            dropped_links_count=dropped_links,
        )
    )


def _event(event: dict[str, Any], path: str, reading: Reading) -> dict[str, Any]:
    return {
        "name": string(event, path, "name"),
        "time_unix_nano": uint(event, path, "timeUnixNano", "time_unix_nano"),
        "attributes": attributes(event, path, reading),
        "dropped_attributes_count": uint(
            event, path, "droppedAttributesCount", "dropped_attributes_count"
        ),
    }


def _link(link: dict[str, Any], path: str, reading: Reading) -> dict[str, Any]:
    return {
        "trace_id": hex_id(field(link, "traceId", "trace_id"), 16) or "",
        "span_id": hex_id(field(link, "spanId", "span_id"), 8) or "",
        "trace_state": string(link, path, "traceState", "trace_state"),
        "attributes": attributes(link, path, reading),
        "flags": uint(link, path, "flags"),
        "dropped_attributes_count": uint(
            link, path, "droppedAttributesCount", "dropped_attributes_count"
        ),
    }
