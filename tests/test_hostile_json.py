"""Hostile OTLP values: refused with the path of the offending value, never a 500.

Integers in strings that are not ASCII decimal, ids padded with whitespace, values
nested past any sensible depth, negative severities: each gets a 400 (or a partial
success for what only spoils one record), nothing is stored, and the server answers on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as PbLogRecord
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from sqlalchemy.orm import Session

from collector import decode_proto
from collector.decoded import MAX_VALUE_DEPTH
from collector.errors import InvalidPayload
from store.models import LogRecord, Project, Span
from tests.otlp import (
    JSON,
    Ids,
    LogSpec,
    SpanSpec,
    logs_request,
    parse_logs_response,
    post,
    post_logs,
    request,
)
from tests.server import Server

SPAN_PATH = "$.resourceSpans[0].scopeSpans[0].spans[0]"
RECORD_PATH = "$.resourceLogs[0].scopeLogs[0].logRecords[0]"
SIGNALS = ("traces", "logs")
# Stands for a value's JSON text, spliced in after json.dumps: the deep values are built
# as text, since json.dumps would hit Python's recursion limit on them.
_SLOT = "__value__"
_BODY_SLOT = "__body__"


@pytest.fixture(autouse=True)
def still_healthy(server: Server) -> Iterator[None]:
    yield
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"


def document(
    signal: str,
    ids: Ids,
    value: str = '{"stringValue": "v"}',
    log_body: str = '{"stringValue": "b"}',
    **fields: Any,
) -> bytes:
    """One span or log record whose attribute "a" is ``value`` and whose body (a log
    record's) is ``log_body``, both JSON text."""
    item = {
        "traceId": ids.trace(),
        "spanId": ids.span(),
        "attributes": [{"key": "a", "value": _SLOT}],
    }
    if signal == "traces":
        item |= {"name": "s", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
        body = {"resourceSpans": [{"scopeSpans": [{"spans": [item | fields]}]}]}
    else:
        item |= {"timeUnixNano": "1", "body": _BODY_SLOT}
        body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [item | fields]}]}]}
    text = json.dumps(body).replace(f'"{_SLOT}"', value)
    return text.replace(f'"{_BODY_SLOT}"', log_body).encode()


def send(server: Server, signal: str, body: bytes, project: str) -> httpx.Response:
    headers = {**JSON, "x-reasonlens-project": project}
    return httpx.post(f"{server.url}/v1/{signal}", content=body, headers=headers, timeout=30)


def stored(server: Server, project: str) -> int:
    """Spans and log records stored in the project."""
    total = server.count(Span, project)
    with server.engine.connect() as connection:
        total += connection.execute(
            sa.select(sa.func.count())
            .select_from(LogRecord)
            .join(Project, Project.id == LogRecord.project_id)
            .where(Project.name == project)
        ).scalar_one()
    return total


def assert_refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3  # INVALID_ARGUMENT
    assert message in response.json()["message"]


def path_of(signal: str) -> str:
    return SPAN_PATH if signal == "traces" else RECORD_PATH


def nested(kind: str, depth: int) -> str:
    """JSON text of a string ``depth`` arrayValues or kvlistValues deep."""
    text = '{"stringValue": "leaf"}'
    for _ in range(depth):
        if kind == "arrayValue":
            text = f'{{"arrayValue": {{"values": [{text}]}}}}'
        else:
            text = f'{{"kvlistValue": {{"values": [{{"key": "k", "value": {text}}}]}}}}'
    return text


def nested_python(kind: str, depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if kind == "arrayValue" else {"k": value}
    return value


# --- integers -------------------------------------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"\u00b2"', "expected an integer"),  # superscript two: str.isdigit() says yes
        ('"\u0661\u0662\u0663"', "expected an integer"),  # Arabic-Indic 123
        ('"\uff15"', "expected an integer"),  # fullwidth 5
        ('"--5"', "expected an integer"),
        ('"-"', "expected an integer"),
        ('"1_000"', "expected an integer"),
        ('"+5"', "expected an integer"),
        ('"\u30005"', "expected an integer"),  # ideographic space: not JSON whitespace
        (f'"{"1" * 5000}"', "out of the 64-bit range"),  # past int()'s 4300 digits
    ],
)
def test_integer_strings_must_be_ascii_decimal(
    server: Server, project: str, signal: str, value: str, message: str
) -> None:
    body = document(signal, Ids(project), f'{{"intValue": {value}}}')
    response = send(server, signal, body, project)
    assert_refused(response, f"{path_of(signal)}.attributes[0].value.intValue: ")
    assert message in response.json()["message"]
    assert stored(server, project) == 0


@pytest.mark.parametrize("signal", SIGNALS)
def test_timestamps_in_other_digits_are_refused(server: Server, project: str, signal: str) -> None:
    key = "startTimeUnixNano" if signal == "traces" else "timeUnixNano"
    body = document(signal, Ids(project), **{key: "\u0661\u0662\u0663"})
    assert_refused(send(server, signal, body, project), f"{path_of(signal)}.{key}: expected")
    assert stored(server, project) == 0


def test_the_spellings_the_collector_accepts_still_work(server: Server, project: str) -> None:
    ids = Ids(project)
    trace_id, span_id = ids.trace(), ids.span()
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "startTimeUnixNano": " 1700000000000000000\n",
        "endTimeUnixNano": 1.7e18,
        "attributes": [
            {"key": key, "value": {"intValue": value}}
            for key, value in (("neg", "-7"), ("padded", "\t42 "), ("zeros", "0042"),
                               ("min", str(-(1 << 63))), ("number", 12))
        ],
    }  # fmt: skip
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    response = send(server, "traces", body, project)
    assert response.status_code == 200, response.text
    with Session(server.engine) as session:
        row = session.scalars(sa.select(Span).where(Span.span_id == span_id)).one()
    assert row.start_time_ns == 1700000000000000000
    assert row.attributes == {"neg": -7, "padded": 42, "zeros": 42, "min": -(1 << 63),
                              "number": 12}  # fmt: skip


# --- ids ------------------------------------------------------------------------------

# 32 characters, but 15 bytes: bytes.fromhex() skips the spaces.
SPACED_TRACE_ID = "5b8efff798038103d269b633813f  0c"
SPACED_SPAN_ID = "eee19b7e  c3c1b1"


@pytest.mark.parametrize("field", ["traceId", "spanId"])
def test_ids_padded_with_whitespace_refuse_their_span(
    server: Server, project: str, field: str
) -> None:
    spaced = SPACED_TRACE_ID if field == "traceId" else SPACED_SPAN_ID
    response = send(server, "traces", document("traces", Ids(project), **{field: spaced}), project)
    assert response.status_code == 200, response.text
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert stored(server, project) == 0


@pytest.mark.parametrize("field", ["traceId", "spanId"])
def test_ids_padded_with_whitespace_refuse_their_record(
    server: Server, project: str, field: str
) -> None:
    spaced = SPACED_TRACE_ID if field == "traceId" else SPACED_SPAN_ID
    response = send(server, "logs", document("logs", Ids(project), **{field: spaced}), project)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert ("trace_id" if field == "traceId" else "span_id") in partial["errorMessage"]
    assert stored(server, project) == 0


# --- nesting --------------------------------------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize(
    ("kind", "depth"),
    [
        ("arrayValue", MAX_VALUE_DEPTH + 1),
        ("kvlistValue", MAX_VALUE_DEPTH + 1),
        ("arrayValue", 300),  # past orjson's 254 levels, within orjson.loads' 1024
    ],
)
def test_values_nested_too_deep_are_refused(
    server: Server, project: str, signal: str, kind: str, depth: int
) -> None:
    response = send(server, signal, document(signal, Ids(project), nested(kind, depth)), project)
    assert_refused(
        response,
        f"{path_of(signal)}.attributes[0].value: arrayValue/kvlistValue nested more than "
        f"{MAX_VALUE_DEPTH} levels deep",
    )
    assert stored(server, project) == 0


def test_a_log_body_nested_too_deep_is_refused(server: Server, project: str) -> None:
    body = document("logs", Ids(project), log_body=nested("arrayValue", 300))
    assert_refused(send(server, "logs", body, project), f"{RECORD_PATH}.body: arrayValue")
    assert stored(server, project) == 0


@pytest.mark.parametrize("kind", ["arrayValue", "kvlistValue"])
def test_values_nested_to_the_limit_are_stored(server: Server, project: str, kind: str) -> None:
    ids = Ids(project)
    deep = nested(kind, MAX_VALUE_DEPTH)
    for signal in SIGNALS:
        response = send(server, signal, document(signal, ids, deep), project)
        assert response.status_code == 200, response.text
        assert response.json() == {}
    with Session(server.engine) as session:
        span = session.scalars(
            sa.select(Span)
            .join(Project, Project.id == Span.project_id)
            .where(Project.name == project)
        ).one()
        record = session.scalars(
            sa.select(LogRecord)
            .join(Project, Project.id == LogRecord.project_id)
            .where(Project.name == project)
        ).one()
    assert span.attributes["a"] == record.attributes["a"] == nested_python(kind, MAX_VALUE_DEPTH)


def test_error_paths_inside_kvlists_name_the_json(server: Server, project: str) -> None:
    value = '{"kvlistValue": {"values": [{"key": 1, "value": {"stringValue": "x"}}]}}'
    response = send(server, "traces", document("traces", Ids(project), value), project)
    assert_refused(
        response, f"{SPAN_PATH}.attributes[0].value.kvlistValue.values[0].key: expected a string"
    )


# Protobuf: the parsers (upb and pure Python) refuse messages nested more than 100 deep,
# and each AnyValue level is two messages (AnyValue, ArrayValue): a value nested 90 deep
# never reaches the decoder. Such a message cannot be built with the library either (its
# CopyFrom and serializer have the same limit), so it is written field by field.


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _field(message: type[Message], name: str, payload: bytes) -> bytes:
    """One length-delimited field of ``message``, encoded by hand."""
    number = message.DESCRIPTOR.fields_by_name[name].number
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _wire_nested(depth: int) -> bytes:
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(depth):
        value = _field(AnyValue, "array_value", _field(ArrayValue, "values", value))
    return value


@pytest.mark.parametrize("signal", SIGNALS)
def test_protobuf_nested_90_deep_is_refused_by_the_parser(
    server: Server, project: str, signal: str
) -> None:
    ids = Ids(project)
    deep = _wire_nested(90)
    if signal == "traces":
        attribute = _field(KeyValue, "key", b"a") + _field(KeyValue, "value", deep)
        span = SpanSpec(ids.trace(), ids.span(), "s", 1, 2).to_proto().SerializeToString()
        span += _field(PbSpan, "attributes", attribute)
        body = _field(
            ExportTraceServiceRequest,
            "resource_spans",
            _field(ResourceSpans, "scope_spans", _field(ScopeSpans, "spans", span)),
        )
        response = post(server.url, body, project=project)
    else:
        record = LogSpec("e", trace_id=ids.trace(), span_id=ids.span()).to_proto()
        raw = record.SerializeToString() + _field(PbLogRecord, "body", deep)
        body = _field(
            ExportLogsServiceRequest,
            "resource_logs",
            _field(ResourceLogs, "scope_logs", _field(ScopeLogs, "log_records", raw)),
        )
        response = post_logs(server.url, body, project=project)
    assert response.status_code == 400
    assert "not a valid OTLP" in Status.FromString(response.content).message
    assert stored(server, project) == 0


def _pb_nested(depth: int) -> AnyValue:
    """Built in place: in memory, a message has no depth limit."""
    root = AnyValue()
    value = root
    for _ in range(depth):
        value = value.array_value.values.add()
    value.string_value = "leaf"
    return root


def test_protobuf_values_in_memory_are_capped_like_json() -> None:
    assert decode_proto.any_value(_pb_nested(MAX_VALUE_DEPTH)) == nested_python(
        "arrayValue", MAX_VALUE_DEPTH
    )
    with pytest.raises(InvalidPayload, match=f"nested more than {MAX_VALUE_DEPTH} levels"):
        decode_proto.any_value(_pb_nested(MAX_VALUE_DEPTH + 1))
    message = request([SpanSpec("ab" * 16, "cd" * 8, "s", 1, 2)])
    attribute = message.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deep")
    value = attribute.value
    for _ in range(MAX_VALUE_DEPTH + 1):
        value = value.array_value.values.add()
    value.string_value = "leaf"
    with pytest.raises(InvalidPayload, match="nested more than"):
        decode_proto.decode_request(message)


# --- severity -------------------------------------------------------------------------


@pytest.mark.parametrize("severity", [-1, -(1 << 63)])
def test_negative_severity_refuses_only_its_record(
    server: Server, project: str, severity: int
) -> None:
    body = document("logs", Ids(project), severityNumber=severity)
    response = send(server, "logs", body, project)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert f"severity_number {severity} is not 0-24" in partial["errorMessage"]

    # As protobuf does.
    proto = post_logs(server.url, logs_request([LogSpec("e", severity_number=-3)]), project=project)
    assert proto.status_code == 200
    assert parse_logs_response(proto).partial_success.rejected_log_records == 1
    assert stored(server, project) == 0
