"""Hostile OTLP for the fuzz tests: seeds, mutations and random requests (hypothesis).

Seeds are real payloads: the public fixtures, and the demo's traffic as the real SDK
encodes it (protobuf and OTLP/JSON). Mutations flip, cut and splice their bytes, or
replace nodes of their JSON tree with hostile values (lone surrogates, NUL, huge
numbers, deep nesting). Random requests are built message by message: odd ids, extreme
times, out-of-range enums, AnyValue trees, known convention keys (so the normalizer
reads them), content events and evaluation results.

``examples(n)`` scales a test's example count with the hypothesis profile: ``ci``
(loaded by tests/conftest.py, derandomized: the same examples on every run) runs ``n``;
``pytest --hypothesis-profile=fuzz`` runs fifty times more, randomly (DEVELOPERS.md).
"""

from __future__ import annotations

import copy
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from types import FrameType
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs as json_logs
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as json_spans
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from collector.decoded import MAX_VALUE_DEPTH
from collector.normalize.index import KEY_INDEX
from tests.demo_runs import run_logged
from tests.otlp import SpanSpec, any_value, otlp_json, request
from tests.paths import SHARED_FIXTURES

CI_EXAMPLES = 100  # hypothesis' default max_examples, which the ci profile keeps


def examples(n: int) -> int:
    """``n`` under the ci profile, scaled with the loaded profile's max_examples."""
    return max(1, n * settings().max_examples // CI_EXAMPLES)


class Hang(Exception):
    """An example ran past its time bound."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Fail an example that runs longer than ``seconds`` (a hang, or a quadratic path),
    where hypothesis' deadline would only report it after it ended."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"example ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- seeds ----------------------------------------------------------------------------

Seed = tuple[str, str, bytes]  # signal, encoding ("protobuf" or "json"), body


@cache
def seeds() -> tuple[Seed, ...]:
    """Real payloads of both signals in both encodings, a few KB each."""
    found: list[Seed] = []
    _, spans, logs = run_logged(2, seed=7)
    for chunk in (spans[:6], spans[6:14]):
        found.append(("traces", "protobuf", encode_spans(chunk).SerializeToString()))
        found.append(("traces", "json", json_spans(chunk).to_json().encode()))
    for chunk in (logs[:4], logs[4:10]):
        if chunk:
            found.append(("logs", "protobuf", encode_logs(chunk).SerializeToString()))
            found.append(("logs", "json", json_logs(chunk).to_json().encode()))
    examples_dir = SHARED_FIXTURES / "otlp-proto-examples"
    found.append(("traces", "json", (examples_dir / "trace.json").read_bytes()))
    found.append(("logs", "json", (examples_dir / "logs.json").read_bytes()))
    found.append(("logs", "json", (examples_dir / "events.json").read_bytes()))
    found.append(("traces", "json", (SHARED_FIXTURES / "otlp2parquet/trace.json").read_bytes()))
    found.append(("traces", "protobuf", (SHARED_FIXTURES / "otlp2parquet/trace.pb").read_bytes()))
    found += _wrapped_fixtures()
    return tuple(found)


def _wrapped_fixtures() -> list[Seed]:
    """The attribute-map fixtures (OpenInference, GenAI, Vercel) in OTLP envelopes."""
    specs: list[SpanSpec] = []
    for path in sorted((SHARED_FIXTURES / "openinference-genai").glob("*.json")):
        specs.append(SpanSpec("ab" * 16, f"{len(specs) + 1:016x}", path.stem, 1, 2,
                              attributes=json.loads(path.read_text())))  # fmt: skip
    for item in json.loads((SHARED_FIXTURES / "vercel-ai-sdk-v6/all-spans.json").read_text()):
        specs.append(SpanSpec("cd" * 16, f"{len(specs) + 1:016x}", item["name"], 1, 2,
                              attributes=item["attributes"]))  # fmt: skip
    message = request(specs)
    return [
        ("traces", "protobuf", message.SerializeToString()),
        ("traces", "json", otlp_json(message)),
    ]


# --- byte and JSON mutations ----------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` with a few bytes flipped, set, inserted, deleted, duplicated or cut."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "copy", "cut"]))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x22, 0x5C, 0x7B, 0x5B]))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "copy":
            size = draw(st.integers(1, 64))
            data[at:at] = data[at : at + size]
        elif action == "cut":
            del data[at:]
    return bytes(data)


# Raw JSON text spliced into a string after serialization: what json.dumps never writes.
_RAW_ESCAPES = [
    r"\ud800", r"\udc00", r"\ud83d", r"\ud83d\ude00", r"\u0000", r"\ud800\u0000",
    r"\\", r"\"", r"\/", r"\uFFFF", r"\uDBFF\uDFFF", "\x7f", "\u2028",
]  # fmt: skip
_SLOT = "\u0001slot\u0001"
# Raw JSON numbers json.dumps cannot write (past int()'s 4,300 digits) or will not.
_NUMBER_SLOT = "\u0001number\u0001"
_RAW_NUMBERS = ["1" * 5000, "1e999999", "-0.0e-0", "123456789012345678901234567890"]

HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["", "\x00", "NaN", "Infinity", "-0", "1e400", " 12 ", "١٢٣", "SPAN_KIND_SERVER",
         "STATUS_CODE_ERROR", "ab" * 16, "00" * 16, "cd" * 8, "x" * 5000, "é" * 3000]
    ),
)  # fmt: skip


def _anyvalues(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda v: {"stringValue": v}, inner),
        st.builds(lambda v: {"intValue": v}, inner),
        st.builds(lambda v: {"arrayValue": {"values": v}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kv: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kv]}},
            st.lists(st.tuples(st.text(max_size=8), inner), max_size=3),
        ),
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    )


HOSTILE_JSON = st.recursive(HOSTILE_SCALARS, _anyvalues, max_leaves=12)


_LEAVES_LIKE: dict[type, st.SearchStrategy[Any]] = {
    str: st.one_of(st.text(max_size=40), HOSTILE_SCALARS.filter(lambda v: isinstance(v, str))),
    int: st.one_of(st.integers(-(2**65), 2**65), st.sampled_from([0, 2**63, 2**64 - 1])),
    bool: st.booleans(),
}


def _nodes(document: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON tree, without recursion."""
    found: list[tuple[Any, Any]] = []
    stack = [document]
    while stack:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(pairs):
            found.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    return found


@st.composite
def mutated_json(draw: st.DrawFn, body: bytes) -> bytes:
    """``body``'s JSON tree with nodes replaced, deleted or deeply nested, serialized
    with or without ASCII escapes, and raw escapes spliced into a string."""
    document = copy.deepcopy(json.loads(body))
    for _ in range(draw(st.integers(1, 4))):
        nodes = _nodes(document)
        if not nodes:
            break
        container, key = draw(st.sampled_from(nodes))
        action = draw(st.sampled_from(["replace", "replace", "delete", "deepen", "slot", "number"]))
        if action == "replace":
            container[key] = draw(HOSTILE_JSON)
        elif action == "delete":
            del container[key]
        elif action == "deepen":
            container[key] = deep_any_value(
                draw(st.integers(MAX_VALUE_DEPTH - 1, MAX_VALUE_DEPTH + 2))
            )
        else:
            container[key] = _SLOT if action == "slot" else _NUMBER_SLOT
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    while _SLOT in text:
        text = text.replace(_SLOT, draw(st.sampled_from(_RAW_ESCAPES)), 1)
    number = json.dumps(_NUMBER_SLOT)
    while number in text:
        text = text.replace(number, draw(st.sampled_from(_RAW_NUMBERS)), 1)
    return text.encode("utf-8", "surrogatepass")


def deep_any_value(depth: int) -> dict[str, Any]:
    """An OTLP/JSON AnyValue nested ``depth`` levels, arrays and kvlists alternating."""
    value: dict[str, Any] = {"stringValue": "leaf"}
    for level in range(depth):
        if level % 2:
            value = {"arrayValue": {"values": [value]}}
        else:
            value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


# --- random messages ------------------------------------------------------------------

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


@st.composite
def bodies(draw: st.DrawFn, encodings: tuple[str, ...] = ("protobuf", "json")) -> Seed:
    """Any of the hostile bodies: a random message (most often: it reaches furthest),
    a mutated seed, or random bytes."""
    kind = draw(st.sampled_from(["message", "message", "message", "mutated", "mutated", "random"]))
    encoding = draw(st.sampled_from(encodings))
    if kind == "random":
        return draw(st.sampled_from(["traces", "logs"])), encoding, draw(st.binary(max_size=256))
    if kind == "message":
        message = draw(st.one_of(trace_requests(), log_requests()))
        signal_name = "logs" if isinstance(message, ExportLogsServiceRequest) else "traces"
        if encoding == "protobuf":
            return signal_name, encoding, message.SerializeToString()
        return signal_name, encoding, otlp_json(message)
    signal_name, encoding, body = draw(st.sampled_from([s for s in seeds() if s[1] in encodings]))
    if encoding == "json" and draw(st.booleans()):
        return signal_name, encoding, draw(mutated_json(body))
    return signal_name, encoding, draw(mutated_bytes(body))
