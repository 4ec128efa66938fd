"""Build and send real OTLP requests: protobuf messages from opentelemetry-proto."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list | tuple):
        array = AnyValue()
        array.array_value.values.extend(any_value(item) for item in value)
        return array
    if isinstance(value, dict):
        kvlist = AnyValue()
        kvlist.kvlist_value.values.extend(key_values(value))
        return kvlist
    return AnyValue(string_value=str(value))


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


@dataclass
class SpanSpec:
    """A span to send; ids are hex strings, times nanoseconds."""

    trace_id: str
    span_id: str
    name: str
    start: int
    end: int
    parent_span_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    kind: int = Span.SPAN_KIND_INTERNAL

    def to_proto(self) -> Span:
        span = Span(
            trace_id=bytes.fromhex(self.trace_id),
            span_id=bytes.fromhex(self.span_id),
            parent_span_id=bytes.fromhex(self.parent_span_id) if self.parent_span_id else b"",
            name=self.name,
            kind=self.kind,  # type: ignore[arg-type]
            start_time_unix_nano=self.start,
            end_time_unix_nano=self.end,
            attributes=key_values(self.attributes),
        )
        if self.error is not None:
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message=self.error))
        return span


def request(
    spans: Iterable[SpanSpec], resource: dict[str, Any] | None = None, scope: str = "tests"
) -> ExportTraceServiceRequest:
    resource_spans = ResourceSpans()
    resource_spans.resource.attributes.extend(key_values(resource or {"service.name": "tests"}))
    scope_spans = ScopeSpans()
    scope_spans.scope.name = scope
    scope_spans.spans.extend(spec.to_proto() for spec in spans)
    resource_spans.scope_spans.append(scope_spans)
    return ExportTraceServiceRequest(resource_spans=[resource_spans])


@dataclass
class LogSpec:
    """A log record to send: a GenAI event when ``event_name`` is one."""

    event_name: str
    body: Any = None
    trace_id: str | None = None
    span_id: str | None = None
    time: int = 1_500
    attributes: dict[str, Any] = field(default_factory=dict)
    severity_number: int = 9

    def to_proto(self) -> LogRecord:
        record = LogRecord(
            event_name=self.event_name,
            time_unix_nano=self.time,
            observed_time_unix_nano=self.time,
            severity_number=self.severity_number,  # type: ignore[arg-type]
            attributes=key_values(self.attributes),
            trace_id=bytes.fromhex(self.trace_id) if self.trace_id else b"",
            span_id=bytes.fromhex(self.span_id) if self.span_id else b"",
        )
        if self.body is not None:
            record.body.CopyFrom(any_value(self.body))
        return record


def logs_request(
    records: Iterable[LogSpec], resource: dict[str, Any] | None = None, scope: str = "tests"
) -> ExportLogsServiceRequest:
    resource_logs = ResourceLogs()
    resource_logs.resource.attributes.extend(key_values(resource or {"service.name": "tests"}))
    scope_logs = ScopeLogs()
    scope_logs.scope.name = scope
    scope_logs.log_records.extend(spec.to_proto() for spec in records)
    resource_logs.scope_logs.append(scope_logs)
    return ExportLogsServiceRequest(resource_logs=[resource_logs])


def post_logs(
    base_url: str,
    body: bytes | ExportLogsServiceRequest,
    headers: dict[str, str] | None = None,
    project: str | None = None,
) -> httpx.Response:
    if isinstance(body, ExportLogsServiceRequest):
        body = body.SerializeToString()
    all_headers = {**PROTOBUF, **(headers or {})}
    if project is not None:
        all_headers["x-reasonlens-project"] = project
    return httpx.post(f"{base_url}/v1/logs", content=body, headers=all_headers, timeout=30)


def parse_logs_response(response: httpx.Response) -> ExportLogsServiceResponse:
    return ExportLogsServiceResponse.FromString(response.content)


def post(
    base_url: str,
    body: bytes | ExportTraceServiceRequest,
    headers: dict[str, str] | None = None,
    project: str | None = None,
) -> httpx.Response:
    if isinstance(body, ExportTraceServiceRequest):
        body = body.SerializeToString()
    all_headers = {**PROTOBUF, **(headers or {})}
    if project is not None:
        all_headers["x-reasonlens-project"] = project
    return httpx.post(f"{base_url}/v1/traces", content=body, headers=all_headers, timeout=30)


def parse_response(response: httpx.Response) -> ExportTraceServiceResponse:
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    return message


_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


def otlp_json(message: Message) -> bytes:
    """The message as OTLP/JSON: protobuf's JSON mapping, ids in hex as OTLP wants them
    (``json_format`` writes every bytes field in base64)."""

    def hex_ids(node: Any) -> Any:
        if isinstance(node, list):
            return [hex_ids(item) for item in node]
        if not isinstance(node, dict):
            return node
        return {
            key: base64.b64decode(value).hex() if key in _ID_KEYS else hex_ids(value)
            for key, value in node.items()
        }

    return json.dumps(hex_ids(json_format.MessageToDict(message))).encode()


class Ids:
    """Deterministic ids for one test: seeded, so failures reproduce."""

    def __init__(self, seed: int | str) -> None:
        self._random = random.Random(seed)

    def trace(self) -> str:
        return self._random.getrandbits(128).to_bytes(16, "big").hex()

    def span(self) -> str:
        return self._random.getrandbits(64).to_bytes(8, "big").hex()
