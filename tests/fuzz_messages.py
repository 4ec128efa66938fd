"""Random OTLP requests built field by field (hypothesis): odd ids, extreme times,
out-of-range enums, AnyValue trees, the keys the normalizer knows, content events and
evaluation results."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.normalize.index import KEY_INDEX
from tests.otlp import any_value

TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "é", "\U0001f600", "<script>alert(1)</script>",
                     "=cmd|' /C calc'!A0", "'; DROP TABLE spans; --", '{"role": "user"', "[[[["]),
    st.builds(lambda char, n: char * n, st.sampled_from(["x", "é", "\x00", "🙂", "["]),
              st.integers(0, 6000)),
)  # fmt: skip
KEYS = st.one_of(st.sampled_from(sorted(KEY_INDEX)), st.text(max_size=20))
MESSAGES = st.builds(
    json.dumps,
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant", "tool", "system", 3])},
            optional={
                "content": TEXT,
                "parts": st.lists(
                    st.fixed_dictionaries({"type": st.just("text"), "content": TEXT})
                ),
            },
        ),
        max_size=3,
    ),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.binary(max_size=24),
    TEXT,
    MESSAGES,
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
_OPERATIONS = st.sampled_from(["chat", "execute_tool", "invoke_agent", "embeddings", "x"])
_COUNTS = st.one_of(
    st.integers(0, 2**63 - 1), st.sampled_from([2**62, 2**63 - 1, 10**12, 10**12 + 1, -1])
)
_LONG = st.builds(
    lambda char, n: char * n, st.sampled_from(["m", "é", "🙂"]), st.integers(200, 3000)
)
# Values the store keeps in typed or indexed columns, where a random key rarely lands:
# token counts (summed per trace) and the identifiers the store indexes.
_POINTED = st.fixed_dictionaries(
    {"gen_ai.operation.name": _OPERATIONS},
    optional={
        "gen_ai.usage.input_tokens": _COUNTS,
        "gen_ai.usage.output_tokens": _COUNTS,
        "gen_ai.usage.cache_read.input_tokens": _COUNTS,
        "llm.token_count.total": _COUNTS,
        "gen_ai.request.model": st.one_of(TEXT, _LONG),
        "gen_ai.tool.name": st.one_of(TEXT, _LONG),
        "gen_ai.agent.name": st.one_of(TEXT, _LONG),
        "gen_ai.agent.version": st.one_of(TEXT, _LONG),
        "session.id": st.one_of(TEXT, _LONG),
        "gen_ai.evaluation.name": st.one_of(TEXT, _LONG),
        "gen_ai.usage.cost": st.one_of(st.floats(), _COUNTS),
    },
)
ATTRIBUTES = st.one_of(st.dictionaries(KEYS, VALUES, max_size=6), _POINTED)
# Each span or log record gets at most one odd field among those that decide whether it
# is stored (ids, times, enums, counts): with several, nearly every one would be
# rejected for the first and carry its other odd values no further.
IDS_16 = st.one_of(st.binary(min_size=16, max_size=16), st.just(bytes(16)), st.binary(max_size=20))
IDS_8 = st.one_of(st.binary(min_size=8, max_size=8), st.just(bytes(8)), st.binary(max_size=10))
TIMES = st.one_of(
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1, 1_700_000_000_000_000_000]),
)
UINT32 = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([2**31 - 1, 2**31, 2**32 - 1]))
ENUMS = st.one_of(
    st.integers(-3, 30),
    st.sampled_from([-(2**31), -32769, 32767, 32768, 2**31 - 1]),
    st.integers(-(2**31), 2**31 - 1),
)
_ODD = {
    "trace_id": IDS_16, "span_id": IDS_8, "parent_span_id": IDS_8, "start": TIMES,
    "end": TIMES, "observed": TIMES, "kind": ENUMS, "code": ENUMS, "severity": ENUMS,
    "flags": UINT32, "dropped": UINT32, "dropped_events": UINT32, "dropped_links": UINT32,
}  # fmt: skip
_USUAL = {
    "trace_id": st.binary(min_size=15, max_size=15).map(b"\x01".__add__),
    "span_id": st.binary(min_size=7, max_size=7).map(b"\x01".__add__),
    "parent_span_id": st.one_of(st.just(b""), st.binary(min_size=8, max_size=8)),
    "start": st.integers(0, 2**63 - 1), "end": st.integers(0, 2**63 - 1),
    "observed": st.integers(0, 2**63 - 1), "kind": st.integers(0, 5), "code": st.integers(0, 2),
    "severity": st.integers(0, 24), "flags": st.integers(0, 0xFF), "dropped": st.integers(0, 3),
    "dropped_events": st.just(0), "dropped_links": st.just(0),
}  # fmt: skip


class _Fields:
    """Draws a message's fields: the usual values, but one field odd (or none)."""

    def __init__(self, draw: st.DrawFn, names: tuple[str, ...]) -> None:
        self._draw = draw
        self._odd = draw(st.sampled_from((*names, None, None)))

    def __call__(self, name: str) -> Any:
        return self._draw(_ODD[name] if name == self._odd else _USUAL[name])


EVENT_NAMES = st.one_of(
    st.sampled_from(["exception", "gen_ai.user.message", "gen_ai.choice", "gen_ai.system.message",
                     "gen_ai.evaluation.result", "gen_ai.client.inference.operation.details"]),
    TEXT,
)  # fmt: skip


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    """As tests.otlp.key_values, with None as an empty AnyValue (valid OTLP)."""
    return [KeyValue(key=key, value=_any(value)) for key, value in attributes.items()]


def _any(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, list):
        result = AnyValue()
        result.array_value.values.extend(_any(item) for item in value)
        return result
    if isinstance(value, dict):
        result = AnyValue()
        result.kvlist_value.values.extend(key_values(value))
        return result
    return any_value(value)


_SPAN_FIELDS = ("trace_id", "span_id", "parent_span_id", "start", "end", "kind", "code",
                "flags", "dropped", "dropped_events", "dropped_links")  # fmt: skip


@st.composite
def spans(draw: st.DrawFn) -> Span:
    field = _Fields(draw, _SPAN_FIELDS)
    span = Span(
        trace_id=field("trace_id"),
        span_id=field("span_id"),
        parent_span_id=field("parent_span_id"),
        name=draw(TEXT),
        kind=field("kind"),
        start_time_unix_nano=field("start"),
        end_time_unix_nano=field("end"),
        attributes=key_values(draw(ATTRIBUTES)),
        trace_state=draw(st.one_of(st.just(""), TEXT)),
        flags=field("flags"),
        dropped_attributes_count=field("dropped"),
        dropped_events_count=field("dropped_events"),
        dropped_links_count=field("dropped_links"),
    )
    span.status.code = field("code")
    span.status.message = draw(TEXT)
    for _ in range(draw(st.integers(0, 2))):
        event = span.events.add(name=draw(EVENT_NAMES), time_unix_nano=draw(TIMES))
        event.attributes.extend(key_values(draw(ATTRIBUTES)))
        event.dropped_attributes_count = draw(UINT32)
    for _ in range(draw(st.integers(0, 1))):
        link = span.links.add(trace_id=draw(IDS_16), span_id=draw(IDS_8), flags=draw(UINT32))
        link.attributes.extend(key_values(draw(ATTRIBUTES)))
    return span


RESOURCE = st.one_of(
    ATTRIBUTES,
    st.fixed_dictionaries({"service.name": TEXT}, optional={"reasonlens.project": TEXT}),
)


@st.composite
def trace_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        group = ResourceSpans(schema_url=draw(TEXT))
        group.resource.attributes.extend(key_values(draw(RESOURCE)))
        for _ in range(draw(st.integers(1, 2))):
            scope = ScopeSpans()
            scope.scope.name, scope.scope.version = draw(TEXT), draw(TEXT)
            scope.scope.attributes.extend(key_values(draw(ATTRIBUTES)))
            scope.spans.extend(draw(st.lists(spans(), min_size=1, max_size=3)))
            group.scope_spans.append(scope)
        message.resource_spans.append(group)
    return message


_RECORD_FIELDS = ("trace_id", "span_id", "start", "observed", "severity", "flags", "dropped")


@st.composite
def log_records(draw: st.DrawFn) -> LogRecord:
    field = _Fields(draw, _RECORD_FIELDS)
    record = LogRecord(
        time_unix_nano=field("start"),
        observed_time_unix_nano=field("observed"),
        severity_number=field("severity"),
        severity_text=draw(TEXT),
        event_name=draw(EVENT_NAMES),
        attributes=key_values(draw(ATTRIBUTES)),
        dropped_attributes_count=field("dropped"),
        flags=field("flags"),
        trace_id=draw(st.sampled_from([b"", field("trace_id")])),
        span_id=draw(st.sampled_from([b"", field("span_id")])),
    )
    body = draw(VALUES)
    if body is not None:
        record.body.CopyFrom(_any(body))
    return record


@st.composite
def log_requests(draw: st.DrawFn) -> ExportLogsServiceRequest:
    message = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        group = ResourceLogs()
        group.resource.attributes.extend(key_values(draw(RESOURCE)))
        scope = ScopeLogs()
        scope.scope.name = draw(TEXT)
        scope.log_records.extend(draw(st.lists(log_records(), min_size=1, max_size=3)))
        group.scope_logs.append(scope)
        message.resource_logs.append(group)
    return message


def item_count(message: ExportTraceServiceRequest | ExportLogsServiceRequest) -> int:
    """Spans or log records in the message."""
    if isinstance(message, ExportTraceServiceRequest):
        return sum(len(s.spans) for g in message.resource_spans for s in g.scope_spans)
    return sum(len(s.log_records) for g in message.resource_logs for s in g.scope_logs)
