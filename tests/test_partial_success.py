"""Spans with bad ids are refused one by one (partial_success); the rest are stored."""

from __future__ import annotations

from store.models import Span, Trace
from tests.otlp import JSON, PROTOBUF, Ids, SpanSpec, parse_response, post, request
from tests.paths import SHARED_FIXTURES
from tests.server import Server


def test_bad_ids_are_rejected_and_the_rest_stored(server: Server, project: str) -> None:
    ids = Ids(project)
    good_trace = ids.trace()
    good = SpanSpec(good_trace, ids.span(), "good", 1, 2)
    specs = [good, SpanSpec(good_trace, ids.span(), "good-2", 2, 3)]
    message = request(specs)
    spans = message.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.trace_id = bytes(16)  # all zeros
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.span_id = b"\x01\x02\x03"  # wrong length
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.trace_id = b"\x01" * 15

    response = post(server.url, message, project=project)
    assert response.status_code == 200
    result = parse_response(response)
    assert result.partial_success.rejected_spans == 3
    assert "2 spans rejected: trace_id must be 16 bytes" in result.partial_success.error_message
    assert "1 span rejected: span_id must be 8 bytes" in result.partial_success.error_message
    assert server.count(Span, project) == 2
    assert server.count(Trace, project) == 1


def test_bad_ids_in_json_are_rejected(server: Server, project: str) -> None:
    base64_ids = (SHARED_FIXTURES / "otlp2parquet/trace.json").read_bytes()  # protojson style
    response = post(server.url, base64_ids, JSON, project=project)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "not base64" in partial["errorMessage"]


def test_empty_request_is_a_success(server: Server, project: str) -> None:
    response = post(server.url, b"", project=project)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == PROTOBUF["Content-Type"]
