"""The domain shape of an OTLP log record, as the log decoders produce it.

Like :class:`~collector.spans.RawSpan`: ids validated and rendered as lowercase hex,
values plain Python. A record's trace and span ids are optional (a log need not belong
to a span); when present they must be well formed, or the record is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from collector.decoded import MAX_INT64, Rejections
from collector.spans import Attributes, Resource, Scope


@dataclass(slots=True)
class RawLogRecord:
    trace_id: str | None
    span_id: str | None
    time_ns: int
    observed_time_ns: int
    severity_number: int
    severity_text: str
    event_name: str
    body: Any
    attributes: Attributes
    resource: Resource
    scope: Scope
    flags: int = 0
    dropped_attributes_count: int = 0


@dataclass(slots=True)
class DecodedLogs(Rejections):
    records: list[RawLogRecord] = field(default_factory=list)
    noun: ClassVar[str] = "log record"


# Older SDKs name the event in an attribute; LogRecord.event_name (proto field 12) is
# the current place (SEMCONV 2.5).
EVENT_NAME_ATTRIBUTE = "event.name"


_MAX_INT32 = (1 << 31) - 1
_MAX_UINT32 = (1 << 32) - 1


def record_problem(record: RawLogRecord, raw_trace: bool, raw_span: bool) -> str | None:
    """Why a record cannot be stored, or None. ``raw_*``: the id field was set."""
    if raw_trace and record.trace_id is None:
        return "trace_id must be empty or 16 bytes (32 hex characters in JSON)"
    if raw_span and record.span_id is None:
        return "span_id must be empty or 8 bytes (16 hex characters in JSON)"
    if max(record.time_ns, record.observed_time_ns) > MAX_INT64:
        return "time beyond the year 2262"
    if not 0 <= record.severity_number <= 24:
        return f"severity_number {record.severity_number} is not 0-24"
    if record.flags > _MAX_UINT32 or record.dropped_attributes_count > _MAX_INT32:
        return "flags or dropped_attributes_count out of range"
    return None


def event_name(name: str, attributes: Attributes) -> str:
    if name:
        return name
    legacy = attributes.get(EVENT_NAME_ATTRIBUTE)
    return legacy if type(legacy) is str else ""
