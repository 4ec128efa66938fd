"""The per-request limits answer alike over HTTP protobuf, HTTP JSON and gRPC.

One server with small limits: too many spans (or log records) refuse the request and
store nothing; attributes over the limit are dropped and counted; long strings are cut
with a marker and the rest of the span kept; values nested too deep refuse the request.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from pydantic import ValidationError

from collector.decoded import MAX_VALUE_DEPTH
from reasonlens.settings import Settings
from tests.databases import fresh_database
from tests.doors import (
    DOORS,
    refused_as_invalid,
    refused_as_too_large,
    send,
    stored_logs,
    stored_spans,
)
from tests.otlp import Ids, LogSpec, SpanSpec, key_values, logs_request, request
from tests.server import Server
from tests.test_hostile_json import _field, _wire_nested

MAX_SPANS = 20
MAX_ATTRIBUTES = 8
MAX_VALUE_BYTES = 1000
MAX_DEPTH = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "REASONLENS_MAX_SPANS_PER_REQUEST": str(MAX_SPANS),
        "REASONLENS_MAX_ATTRIBUTES_PER_SPAN": str(MAX_ATTRIBUTES),
        "REASONLENS_MAX_ATTRIBUTE_VALUE_BYTES": str(MAX_VALUE_BYTES),
        "REASONLENS_MAX_VALUE_DEPTH": str(MAX_DEPTH),
    }
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env=env).start()
        try:
            yield running
        finally:
            running.close()


def spans(seed: str, count: int, **attributes: Any) -> ExportTraceServiceRequest:
    ids = Ids(seed)
    trace = ids.trace()
    return request(
        [
            SpanSpec(trace, ids.span(), f"s{i}", 1_000 + i, 2_000, attributes=attributes)
            for i in range(count)
        ]
    )


def same_everywhere(server: Server, project: str, message: Any) -> list[dict[str, Any]]:
    """Send ``message`` through every door (a project each); the rows, the same for all."""
    rows = []
    for door in DOORS:
        answer = send(server, door, message, f"{project}-{door}")
        assert answer.ok, answer
        reader = stored_logs if isinstance(message, ExportLogsServiceRequest) else stored_spans
        rows.append(reader(server, f"{project}-{door}"))
    assert rows[0] == rows[1] == rows[2]
    return rows[0]


# --- spans per request ----------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_a_request_over_the_span_limit_is_refused_whole(
    server: Server, project: str, door: str
) -> None:
    answer = send(server, door, spans(project, MAX_SPANS + 1), project)
    assert refused_as_too_large(answer), answer
    assert f"carries {MAX_SPANS + 1} spans, over the limit of {MAX_SPANS}" in answer.message
    assert "REASONLENS_MAX_SPANS_PER_REQUEST" in answer.message
    assert stored_spans(server, project) == []


@pytest.mark.parametrize("door", DOORS)
def test_a_request_at_the_span_limit_is_stored(server: Server, project: str, door: str) -> None:
    answer = send(server, door, spans(project, MAX_SPANS), project)
    assert answer.ok and answer.message == "", answer
    assert len(stored_spans(server, project)) == MAX_SPANS


def test_spans_of_several_resources_and_scopes_count_together(server: Server, project: str) -> None:
    message = spans(project, MAX_SPANS // 2 + 1)
    message.resource_spans.append(spans(project + "b", MAX_SPANS // 2).resource_spans[0])
    for door in DOORS:
        assert refused_as_too_large(send(server, door, message, project))
    assert stored_spans(server, project) == []


@pytest.mark.parametrize("door", DOORS)
def test_a_request_over_the_log_record_limit_is_refused_whole(
    server: Server, project: str, door: str
) -> None:
    records = [LogSpec("e", body=f"r{i}", time=1_000 + i) for i in range(MAX_SPANS + 1)]
    answer = send(server, door, logs_request(records), project)
    assert refused_as_too_large(answer), answer
    assert f"carries {MAX_SPANS + 1} log records" in answer.message
    assert stored_logs(server, project) == []


# --- attributes per span --------------------------------------------------------------


def test_attributes_over_the_limit_are_dropped_and_counted(server: Server, project: str) -> None:
    many = {f"k{i:02}": i for i in range(MAX_ATTRIBUTES + 4)}
    message = spans(project, 1, **many)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    span.dropped_attributes_count = 3  # the SDK's own drops are kept and added to
    event = span.events.add(name="e", time_unix_nano=1_500)
    event.attributes.extend(key_values({f"e{i}": i for i in range(MAX_ATTRIBUTES + 2)}))
    link = span.links.add(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)))
    link.attributes.extend(key_values({f"l{i}": i for i in range(MAX_ATTRIBUTES + 1)}))
    message.resource_spans[0].resource.attributes.extend(
        key_values({f"r{i}": i for i in range(MAX_ATTRIBUTES)})  # 9 with service.name
    )

    answers = [send(server, door, message, f"{project}-{door}") for door in DOORS]
    for answer in answers:
        assert answer.ok and answer.rejected == 0, answer
        assert answer.message == (
            f"8 attributes dropped from 4 span, event, link, scope or resource attribute sets "
            f"over the limit of {MAX_ATTRIBUTES} (REASONLENS_MAX_ATTRIBUTES_PER_SPAN); "
            "the first ones were kept"
        )
    (row,) = same_everywhere(server, project, message)
    # As sets: PostgreSQL's JSONB keeps keys in an order of its own.
    assert set(row["attributes"]) == {f"k{i:02}" for i in range(MAX_ATTRIBUTES)}
    assert row["dropped_attributes_count"] == 3 + 4
    (stored_event,) = row["events"]
    assert set(stored_event["attributes"]) == {f"e{i}" for i in range(MAX_ATTRIBUTES)}
    assert stored_event["dropped_attributes_count"] == 2
    (stored_link,) = row["links"]
    assert len(stored_link["attributes"]) == MAX_ATTRIBUTES
    assert stored_link["dropped_attributes_count"] == 1
    assert set(row["resource_attributes"]) == {"service.name"} | {f"r{i}" for i in range(7)}


def test_log_record_attributes_over_the_limit(server: Server, project: str) -> None:
    record = LogSpec("e", body="b", attributes={f"a{i}": i for i in range(MAX_ATTRIBUTES + 5)})
    message = logs_request([record])
    answer = send(server, "http-protobuf", message, project + "-x")
    assert answer.ok and "5 attributes dropped from 1 log record" in answer.message
    (row,) = same_everywhere(server, project, message)
    assert set(row["attributes"]) == {f"a{i}" for i in range(MAX_ATTRIBUTES)}
    assert row["dropped_attributes_count"] == 5


# --- value length ---------------------------------------------------------------------


def cut(text: str, keep_bytes: int) -> str:
    """What the server keeps of ``text``: ``keep_bytes`` of UTF-8 (whole characters)."""
    raw = text.encode()
    kept = raw[:keep_bytes].decode("utf-8", "ignore")
    return f"{kept}…[truncated {len(raw) - len(kept.encode())} bytes]"


def test_long_values_are_cut_with_a_marker_and_the_span_kept(server: Server, project: str) -> None:
    prose = "é" + "abc " * 700  # the cut falls inside a two-byte character
    long_prompt = '[{"role": "user", "content": "' + "x" * 3000 + '"}]'
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.input.messages": long_prompt,
        "note": prose,
        "nested": [{"deep": prose}, "short"],
    }
    message = spans(project, 1, **attributes)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    span.name = "n" * 1500
    span.status.code = 2  # type: ignore[assignment]
    span.status.message = "m" * 1200
    span.events.add(name="ev" * 600, time_unix_nano=1_500)

    answers = [send(server, door, message, f"{project}-{door}") for door in DOORS]
    for answer in answers:
        assert answer.ok and answer.rejected == 0, answer
        assert answer.message.startswith(f"6 values over {MAX_VALUE_BYTES} bytes truncated")
    (row,) = same_everywhere(server, project, message)
    assert row["attributes"]["note"] == cut(prose, MAX_VALUE_BYTES)
    assert row["attributes"]["nested"] == [{"deep": cut(prose, MAX_VALUE_BYTES)}, "short"]
    assert row["attributes"]["gen_ai.input.messages"] == cut(long_prompt, MAX_VALUE_BYTES)
    assert row["name"] == cut("n" * 1500, MAX_VALUE_BYTES)
    assert row["status_message"] == cut("m" * 1200, MAX_VALUE_BYTES)
    assert row["events"][0]["name"] == cut("ev" * 600, MAX_VALUE_BYTES)
    # The rest of the span is read as usual; the cut prompt is no JSON any more, so it
    # is kept as the user's text.
    assert (row["model"], row["input_tokens"], row["kind"]) == ("gpt-4o", 12, "llm")
    assert row["input_text"] == cut(long_prompt, MAX_VALUE_BYTES)


def test_values_within_the_limit_are_untouched_in_a_large_body(
    server: Server, project: str
) -> None:
    exact = "é" * (MAX_VALUE_BYTES // 2)  # exactly the limit in bytes
    message = spans(project, 3, a=exact, b="x" * MAX_VALUE_BYTES)
    assert message.ByteSize() > MAX_VALUE_BYTES  # the strings are measured
    (row, *_) = same_everywhere(server, project, message)
    assert row["attributes"] == {"a": exact, "b": "x" * MAX_VALUE_BYTES}


def test_long_log_bodies_are_cut(server: Server, project: str) -> None:
    body = {"message": "z" * 2500, "list": ["y" * 1001]}
    message = logs_request([LogSpec("e", body=body, attributes={"a": "w" * 1001})])
    (row,) = same_everywhere(server, project, message)
    assert row["body"] == {
        "message": cut("z" * 2500, MAX_VALUE_BYTES),
        "list": [cut("y" * 1001, MAX_VALUE_BYTES)],
    }
    assert row["attributes"] == {"a": cut("w" * 1001, MAX_VALUE_BYTES)}


# --- nesting --------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("door", DOORS)
def test_values_nested_past_the_limit_are_refused(server: Server, project: str, door: str) -> None:
    answer = send(server, door, spans(project, 2, deep=nested(MAX_DEPTH + 1)), project)
    assert refused_as_invalid(answer), answer
    assert f"nested more than {MAX_DEPTH} levels deep" in answer.message
    assert stored_spans(server, project) == []
    body = logs_request([LogSpec("e", body=nested(MAX_DEPTH + 1))])
    assert refused_as_invalid(send(server, door, body, project))
    assert stored_logs(server, project) == []


def test_values_nested_to_the_limit_are_stored(server: Server, project: str) -> None:
    (row,) = same_everywhere(server, project, spans(project, 1, deep=nested(MAX_DEPTH)))
    assert row["attributes"]["deep"] == nested(MAX_DEPTH)


def test_the_depth_ceiling_is_what_protobuf_parses_everywhere() -> None:
    """Deeper than MAX_VALUE_DEPTH, protobuf's parser refuses some positions itself (a
    kvlist in a span event's attribute), so the setting stops there: both encodings
    then refuse the same values."""
    kvlist = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(MAX_VALUE_DEPTH):
        kvlist = _kvlist_level(kvlist)
    for value in (kvlist, _wire_nested(MAX_VALUE_DEPTH)):
        ExportTraceServiceRequest.FromString(_event_attribute(value))  # parses
    with pytest.raises(DecodeError):
        ExportTraceServiceRequest.FromString(_event_attribute(_kvlist_level(kvlist)))
    assert Settings(max_value_depth=MAX_VALUE_DEPTH).max_value_depth == MAX_VALUE_DEPTH
    with pytest.raises(ValidationError):
        Settings(max_value_depth=MAX_VALUE_DEPTH + 1)


def _kvlist_level(value: bytes) -> bytes:
    key_value = _field(KeyValue, "key", b"k") + _field(KeyValue, "value", value)
    return _field(AnyValue, "kvlist_value", _field(KeyValueList, "values", key_value))


def _event_attribute(value: bytes) -> bytes:
    attribute = _field(KeyValue, "key", b"a") + _field(KeyValue, "value", value)
    span = _field(PbSpan, "events", _field(PbSpan.Event, "attributes", attribute))
    scope = _field(ScopeSpans, "spans", span)
    return _field(
        ExportTraceServiceRequest, "resource_spans", _field(ResourceSpans, "scope_spans", scope)
    )


# --- what the store's columns hold ----------------------------------------------------


def test_long_identifiers_fit_the_store_indexes(server: Server, project: str) -> None:
    """PostgreSQL refuses a B-tree entry over ~2.7 kB: a long random tool or agent name
    failed the whole transaction (503, retried forever). The column is cut; the raw
    attribute keeps the value."""
    rng = random.Random(project)
    name = "".join(rng.choice(string.ascii_letters) for _ in range(900))  # under the value cap
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.agent.name": name,
        "gen_ai.agent.version": name,
        "session.id": name,
        "gen_ai.request.model": name,
    }
    message = spans(project, 1, **attributes)
    message.resource_spans[0].resource.attributes[0].value.string_value = name  # service.name
    (row,) = same_everywhere(server, project, message)
    short = f"{name[:256]}…[truncated {900 - 256} chars]"
    for column in (
        "tool_name",
        "agent_name",
        "agent_version",
        "session_id",
        "model",
        "service_name",
    ):
        assert row[column] == short, column
    assert row["attributes"]["gen_ai.tool.name"] == name


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kind": 40_000}, "kind 40000 is not a SpanKind (0-5)"),
        ({"kind": -1}, "kind -1 is not a SpanKind (0-5)"),
        ({"status.code": 70_000}, "status code 70000 is not 0-2"),
        ({"dropped_attributes_count": 2**31}, "flags or a dropped count out of range"),
        ({"dropped_links_count": 2**32 - 1}, "flags or a dropped count out of range"),
    ],
)
def test_numbers_the_store_cannot_hold_refuse_their_span(
    server: Server, project: str, change: dict[str, int], reason: str
) -> None:
    """Each was a 500 on PostgreSQL (SMALLINT and INTEGER columns)."""
    message = spans(project, 2)
    bad = message.resource_spans[0].scope_spans[0].spans[1]
    for key, value in change.items():
        if key == "status.code":
            bad.status.code = value  # type: ignore[assignment]
        else:
            setattr(bad, key, value)
    for door in DOORS:
        answer = send(server, door, message, f"{project}-{door}")
        assert answer.ok and answer.rejected == 1, answer
        assert answer.message == f"1 span rejected: {reason}"
        assert len(stored_spans(server, f"{project}-{door}")) == 1


def test_token_counts_past_a_trillion_are_not_read(server: Server, project: str) -> None:
    """2**62 tokens on two spans overflowed the trace's 64-bit sum (a 500 on both
    databases); such a count is not one anyone meant."""
    usage = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": 2**62,
        "gen_ai.usage.output_tokens": 10**12,
    }
    rows = same_everywhere(server, project, spans(project, 2, **usage))
    assert [(row["input_tokens"], row["output_tokens"]) for row in rows] == [(None, 10**12)] * 2
