"""OTLP protobuf (``ExportTraceServiceRequest``) -> :class:`RawSpan`.

Pure and synchronous: it runs in the decode worker processes, off the event loop.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.decoded import Decoded, finite, span_problem
from collector.errors import InvalidPayload
from collector.spans import Attributes, RawSpan, Resource, Scope

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def decode_protobuf(body: bytes) -> Decoded:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as error:
        raise InvalidPayload(
            f"body is not a valid OTLP ExportTraceServiceRequest protobuf: {error}"
        ) from None
    return decode_request(request)


def decode_request(request: ExportTraceServiceRequest) -> Decoded:
    decoded = Decoded()
    for resource_spans in request.resource_spans:
        pb_resource = resource_spans.resource
        resource = Resource(
            attributes=attributes(pb_resource.attributes),
            schema_url=resource_spans.schema_url,
            dropped_attributes_count=pb_resource.dropped_attributes_count,
        )
        for scope_spans in resource_spans.scope_spans:
            pb_scope = scope_spans.scope
            scope = Scope(
                name=pb_scope.name,
                version=pb_scope.version,
                attributes=attributes(pb_scope.attributes),
            )
            for span in scope_spans.spans:
                trace_id = _trace_id(span.trace_id)
                span_id = _span_id(span.span_id)
                problem = span_problem(
                    trace_id, span_id, span.start_time_unix_nano, span.end_time_unix_nano
                )
                if problem is not None or trace_id is None or span_id is None:
                    decoded.reject(problem or "invalid id")
                    continue
                decoded.spans.append(
                    RawSpan(
                        trace_id=trace_id,
                        span_id=span_id,
                        parent_span_id=_span_id(span.parent_span_id),
                        name=span.name,
                        otel_kind=span.kind,
                        start_time_ns=span.start_time_unix_nano,
                        end_time_ns=span.end_time_unix_nano,
                        attributes=attributes(span.attributes),
                        resource=resource,
                        scope=scope,
                        status_code=span.status.code,
                        status_message=span.status.message,
                        trace_state=span.trace_state,
                        flags=span.flags,
                        events=[_event(event) for event in span.events],
                        links=[_link(link) for link in span.links],
                        dropped_attributes_count=span.dropped_attributes_count,
                        dropped_events_count=span.dropped_events_count,
                        dropped_links_count=span.dropped_links_count,
                    )
                )
    return decoded


def _trace_id(raw: bytes) -> str | None:
    return raw.hex() if len(raw) == 16 and raw != _ZERO_TRACE else None


def _span_id(raw: bytes) -> str | None:
    return raw.hex() if len(raw) == 8 and raw != _ZERO_SPAN else None


def attributes(key_values: Any) -> Attributes:
    result: Attributes = {}
    for kv in key_values:
        value = kv.value
        # Most attributes are strings: read them without a call per value.
        if value.WhichOneof("value") == "string_value":
            result[kv.key] = value.string_value
        else:
            result[kv.key] = any_value(value)
    return result


def any_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return finite(value.double_value)
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _event(event: Any) -> dict[str, Any]:
    return {
        "name": event.name,
        "time_unix_nano": event.time_unix_nano,
        "attributes": attributes(event.attributes),
        "dropped_attributes_count": event.dropped_attributes_count,
    }


def _link(link: Any) -> dict[str, Any]:
    return {
        "trace_id": link.trace_id.hex(),
        "span_id": link.span_id.hex(),
        "trace_state": link.trace_state,
        "attributes": attributes(link.attributes),
        "flags": link.flags,
        "dropped_attributes_count": link.dropped_attributes_count,
    }
