"""OTLP logs (``ExportLogsServiceRequest``), protobuf or JSON -> :class:`RawLogRecord`.

Pure and synchronous, like the span decoders, and as lenient with JSON as the
Collector (``collector/otlp_json.py``). A structural error refuses the request; a
malformed id refuses only its record.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collector import decode_proto, otlp_json
from collector.errors import InvalidPayload
from collector.limits import DEFAULT_LIMITS, Limits, Reading, check_count, reading_for
from collector.log_records import DecodedLogs, RawLogRecord, event_name, record_problem
from collector.spans import Resource, Scope

SEVERITY_NUMBERS = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{level}{'' if n == 1 else n}": base + n - 1
    for level, base in (
        ("TRACE", 1), ("DEBUG", 5), ("INFO", 9), ("WARN", 13), ("ERROR", 17), ("FATAL", 21)
    )
    for n in range(1, 5)
}  # fmt: skip


def decode_logs_protobuf(body: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodedLogs:
    """``limits``: log records per request (counted first) and the nesting of values."""
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as error:
        raise InvalidPayload(
            f"body is not a valid OTLP ExportLogsServiceRequest protobuf: {error}"
        ) from None
    groups = request.resource_logs
    count = sum(len(scope.log_records) for group in groups for scope in group.scope_logs)
    check_count(count, limits, "log record")
    reading = reading_for(limits, len(body))
    decoded = DecodedLogs(cutter=reading.cut)
    for resource_logs in groups:
        resource = decode_proto.resource_of(resource_logs, reading)
        for scope_logs in resource_logs.scope_logs:
            scope = decode_proto.scope_of(scope_logs, reading)
            for record in scope_logs.log_records:
                trace_id = _proto_id(record.trace_id, 16)
                span_id = _proto_id(record.span_id, 8)
                attributes = decode_proto.attributes(record.attributes, reading)
                _add(
                    decoded,
                    RawLogRecord(
                        trace_id=trace_id,
                        span_id=span_id,
                        time_ns=record.time_unix_nano,
                        observed_time_ns=record.observed_time_unix_nano,
                        severity_number=record.severity_number,
                        severity_text=record.severity_text,
                        event_name=event_name(record.event_name, attributes),
                        body=decode_proto.any_value(record.body, reading.depth, reading)
                        if record.HasField("body")
                        else None,
                        attributes=attributes,
                        resource=resource,
                        scope=scope,
                        flags=record.flags,
                        dropped_attributes_count=record.dropped_attributes_count,
                    ),
                    _present(record.trace_id),
                    _present(record.span_id),
                )
    return decoded


_RECORDS = (
    ("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records")
)  # fmt: skip


def decode_logs_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodedLogs:
    """``limits``: log records per request (counted first) and the nesting of values."""
    j = otlp_json
    root = j.document(body)
    check_count(j.count_items(root, *_RECORDS), limits, "log record")
    reading = reading_for(limits, len(body))
    decoded = DecodedLogs(cutter=reading.cut)
    for i, resource_logs in enumerate(j.array(root, "$", "resourceLogs", "resource_logs")):
        path = f"$.resourceLogs[{i}]"
        resource_logs = j.as_object(resource_logs, path)
        resource = j.resource_of(resource_logs, path, reading)
        for k, scope_logs in enumerate(j.array(resource_logs, path, "scopeLogs", "scope_logs")):
            scope_path = f"{path}.scopeLogs[{k}]"
            scope_logs = j.as_object(scope_logs, scope_path)
            scope = j.scope_of(scope_logs, scope_path, reading)
            records = j.array(scope_logs, scope_path, "logRecords", "log_records")
            for n, record in enumerate(records):
                path_n = f"{scope_path}.logRecords[{n}]"
                _json_record(decoded, record, path_n, resource, scope, reading)
    return decoded


def _json_record(
    decoded: DecodedLogs, raw: Any, path: str, resource: Resource, scope: Scope, reading: Reading
) -> None:
    j = otlp_json
    record = j.as_object(raw, path)
    raw_trace = j.field(record, "traceId", "trace_id")
    raw_span = j.field(record, "spanId", "span_id")
    attributes = j.attributes(record, path, reading)
    _add(
        decoded,
        RawLogRecord(
            trace_id=_json_id(raw_trace, 16),
            span_id=_json_id(raw_span, 8),
            time_ns=j.uint(record, path, "timeUnixNano", "time_unix_nano"),
            observed_time_ns=j.uint(
                record, path, "observedTimeUnixNano", "observed_time_unix_nano"
            ),
            severity_number=_severity(record, path),
            severity_text=j.string(record, path, "severityText", "severity_text"),
            event_name=event_name(j.string(record, path, "eventName", "event_name"), attributes),
            body=j.any_value(j.field(record, "body"), f"{path}.body", reading),
            attributes=attributes,
            resource=resource,
            scope=scope,
            flags=j.uint(record, path, "flags"),
            dropped_attributes_count=j.uint(
                record, path, "droppedAttributesCount", "dropped_attributes_count"
            ),
        ),
        _present(raw_trace),
        _present(raw_span),
    )


def _severity(record: dict[str, Any], path: str) -> int:
    """Read signed: a negative number spoils only its record (``record_problem`` says
    it is not 0-24), as it does in protobuf, instead of the whole request."""
    key = "severityNumber" if "severityNumber" in record else "severity_number"
    return otlp_json.enum(record, path, SEVERITY_NUMBERS, key, signed=True)


def _add(decoded: DecodedLogs, record: RawLogRecord, raw_trace: bool, raw_span: bool) -> None:
    problem = record_problem(record, raw_trace, raw_span)
    if problem is not None:
        decoded.reject(problem)
    else:
        decoded.records.append(record)


def _present(raw: Any) -> bool:
    """An id field that is set and not all zeros (zeros mean "no span" in SDKs)."""
    if isinstance(raw, bytes):
        return any(raw)
    if isinstance(raw, str):
        return raw.strip("0") != ""
    return raw is not None


def _proto_id(raw: bytes, size: int) -> str | None:
    return raw.hex() if len(raw) == size and any(raw) else None


def _json_id(raw: Any, size: int) -> str | None:
    return otlp_json.hex_id(raw, size)
