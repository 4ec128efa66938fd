"""OTLP/JSON as the official Collector reads it, stored field for field."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx
import sqlalchemy as sa

from store.models import Span
from tests.otlp import JSON, post
from tests.paths import SHARED_FIXTURES
from tests.server import Server

SPEC_EXAMPLE = SHARED_FIXTURES / "otlp-proto-examples" / "trace.json"


def stored_span(server: Server, span_id: str) -> Span:
    with sa.orm.Session(server.engine) as session:
        return session.scalars(sa.select(Span).where(Span.span_id == span_id)).one()


def test_spec_example_is_stored_field_for_field(server: Server, project: str) -> None:
    response = post(server.url, SPEC_EXAMPLE.read_bytes(), JSON, project=project)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}

    span = stored_span(server, "eee19b7ec3c1b174")
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"  # hex, lower-cased
    assert span.parent_span_id == "eee19b7ec3c1b173"
    assert span.name == "I'm a server span"
    assert span.otel_kind == 2
    assert span.start_time_ns == 1544712660000000000
    assert span.end_time_ns == 1544712661000000000
    assert span.duration_ns == 1_000_000_000
    assert span.attributes == {"my.span.attr": "some value"}
    assert span.resource_attributes == {"service.name": "my.service"}
    assert span.service_name == "my.service"
    assert (span.scope_name, span.scope_version) == ("my.library", "1.0.0")
    assert span.scope_attributes == {"my.scope.attribute": "some scope attribute"}
    assert span.status == "ok" and span.status_code == 0
    assert span.kind == "other"
    assert span.unmapped == ["my.span.attr"]  # kept, and reported as not interpreted

    trace = httpx.get(
        f"{server.url}/api/traces/5b8efff798038103d269b633813fc60c", params={"project": project}
    ).json()
    assert trace["project"] == project
    assert trace["span_count"] == 1
    assert trace["start_time"] == "2018-12-13T14:51:00.000000Z"
    assert trace["duration_ms"] == 1000.0
    # Its parent is not in the trace: it is the trace's head span, but not a root.
    assert trace["root_span_id"] is None and trace["name"] == "I'm a server span"


def lenient_document(trace_id: str, span_id: str) -> dict[str, object]:
    """The spellings the Collector accepts beyond the spec: snake_case, enum names, numbers."""
    return {
        "resource_spans": [{
            "resource": {"attributes": [{"key": "service.name",
                                         "value": {"string_value": "lenient"}}]},
            "scope_spans": [{
                "scope": {"name": "s"},
                "spans": [{
                    "trace_id": trace_id.upper(),
                    "span_id": span_id,
                    "parent_span_id": "",
                    "name": "lenient",
                    "kind": "SPAN_KIND_CLIENT",
                    "start_time_unix_nano": 1700000000000000000,
                    "end_time_unix_nano": "1700000000500000000",
                    "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                    "attributes": [
                        {"key": "i", "value": {"intValue": "9007199254740993"}},
                        {"key": "d", "value": {"doubleValue": 1.5}},
                        {"key": "nan", "value": {"doubleValue": "NaN"}},
                        {"key": "b", "value": {"boolValue": True}},
                        {"key": "raw", "value": {"bytesValue": "aGk="}},
                        {"key": "arr", "value": {"arrayValue": {"values": [
                            {"stringValue": "x"}, {"intValue": 2}]}}},
                        {"key": "kv", "value": {"kvlistValue": {"values": [
                            {"key": "k", "value": {"stringValue": "v"}}]}}},
                        {"key": "empty", "value": {}},
                    ],
                    "events": [{"time_unix_nano": "1700000000100000000", "name": "e",
                                "attributes": []}],
                    "unknownField": {"ignored": True},
                }],
            }],
        }]
    }  # fmt: skip


def test_collector_leniency_and_value_types(server: Server, project: str) -> None:
    trace_id, span_id = "ab" * 16, "cd" * 8
    body = json.dumps(lenient_document(trace_id, span_id)).encode()
    response = post(server.url, body, {"Content-Type": "application/json; charset=utf-8"},
                    project=project)  # fmt: skip
    assert response.status_code == 200, response.text
    span = stored_span(server, span_id)
    assert span.trace_id == trace_id and span.parent_span_id is None
    assert span.otel_kind == 3
    assert span.end_time_ns == 1700000000500000000
    assert span.status == "error" and span.status_message == "boom"
    assert span.attributes == {
        "i": 9007199254740993,  # beyond a double's precision: kept exact
        "d": 1.5,
        "nan": "NaN",
        "b": True,
        "raw": "aGk=",
        "arr": ["x", 2],
        "kv": {"k": "v"},
        "empty": None,
    }
    assert span.events == [
        {"name": "e", "time_unix_nano": 1700000000100000000, "attributes": {},
         "dropped_attributes_count": 0}
    ]  # fmt: skip


def test_gzip_and_deflate_bodies(server: Server, project: str) -> None:
    raw = SPEC_EXAMPLE.read_bytes().replace(b"EEE19B7EC3C1B174", b"EEE19B7EC3C1B175")
    gzipped = post(server.url, gzip.compress(raw), {**JSON, "Content-Encoding": "gzip"},
                   project=project)  # fmt: skip
    assert gzipped.status_code == 200, gzipped.text
    raw = raw.replace(b"EEE19B7EC3C1B175", b"EEE19B7EC3C1B176")
    deflated = post(server.url, zlib.compress(raw), {**JSON, "Content-Encoding": "deflate"},
                    project=project)  # fmt: skip
    assert deflated.status_code == 200, deflated.text
    assert server.count(Span, project) == 2
