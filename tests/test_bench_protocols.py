"""The benchmark's OTLP/JSON bodies: the same spans as its protobuf bodies, as the
OTLP specification encodes them (hex ids), and as fast to build as the suite needs."""

from __future__ import annotations

import orjson

from bench.payloads import Payloads
from bench.protocols import otlp_json, payload_bodies
from collector.decode_json import decode_json
from collector.decode_proto import decode_protobuf


def test_patched_json_bodies_equal_the_generic_encoding() -> None:
    payloads = Payloads(20)
    fast = payload_bodies("http-json", payloads, 3, first=7)
    assert fast == [otlp_json(Payloads(20).body(batch)) for batch in range(7, 10)]


def test_the_server_decodes_the_same_spans_from_both_encodings() -> None:
    body = Payloads(20).body(5)
    from_json, from_protobuf = decode_json(otlp_json(body)), decode_protobuf(body)
    assert from_json.rejected == from_protobuf.rejected == 0
    assert from_json.spans == from_protobuf.spans


def test_json_ids_are_hex() -> None:
    span = orjson.loads(otlp_json(Payloads(10).body(1)))["resourceSpans"][0]["scopeSpans"][0]
    first = span["spans"][1]
    assert len(first["traceId"]) == 32 and int(first["traceId"], 16)
    assert len(first["spanId"]) == 16 and len(first["parentSpanId"]) == 16
    assert isinstance(first["kind"], int)
