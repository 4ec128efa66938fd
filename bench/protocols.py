"""The three OTLP doors (HTTP protobuf, HTTP JSON, gRPC), with the same spans behind each.

A benchmark builds its request bodies once as protobuf (bench/payloads.py,
bench/demo_payloads.py) and re-encodes them here, so every door carries the very same
spans. Senders come in two shapes: :func:`send` posts a list of bodies as fast as
``clients`` connections allow (bench/ingest.py's loops), and :func:`poster` gives one
connection's send-one-body function, for the paced latency runs (bench/latency.py).
"""

from __future__ import annotations

import base64
import http.client
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.ingest import Run, send_all, send_all_grpc
from bench.payloads import Payloads

Protocol = Literal["http-protobuf", "http-json", "grpc"]
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
CONTENT_TYPES = {"http-protobuf": "application/x-protobuf", "http-json": "application/json"}
GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GRPC_RESOURCE_EXHAUSTED = 8  # the status exporters retry, as HTTP's 503
GRPC_UNAVAILABLE = 14

Send = Callable[[bytes], int]
"""Posts one body and returns its status: HTTP's, or gRPC's code (0 for OK)."""


def otlp_json(body: bytes) -> bytes:
    """The OTLP/JSON body carrying the same spans as the protobuf ``body``.

    protobuf's JSON mapping with the OTLP exceptions (OTLP specification, "JSON
    Protobuf Encoding"): trace and span ids as hex strings, not base64; enums as
    integers; lowerCamelCase keys. 64-bit integers stay decimal strings, which the
    mapping writes and OTLP receivers must accept.
    """
    request = ExportTraceServiceRequest.FromString(body)
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return orjson.dumps(document)


def _hex_ids(item: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if key in item:
            item[key] = base64.b64decode(item[key]).hex()


def encode(protocol: Protocol, bodies: Iterable[bytes]) -> list[bytes]:
    """``bodies`` (protobuf) as ``protocol`` sends them (JSON: ~0.7 ms per span)."""
    if protocol == "http-json":
        return [otlp_json(body) for body in bodies]
    return list(bodies)


def payload_bodies(protocol: Protocol, payloads: Payloads, count: int, first: int) -> list[bytes]:
    """``payloads``' batches ``first`` .. ``first + count - 1`` as ``protocol`` sends them.

    :func:`otlp_json` costs ~0.7 ms per span (json_format walks every field in Python),
    200,000 spans would take minutes; the payload's batches differ only in ids and
    times, so the JSON document is built once and those fields are patched per batch.
    ``tests/test_bench_protocols.py`` checks that the result equals :func:`otlp_json`.
    """
    if protocol != "http-json":
        return list(payloads.bodies(count, first))
    document = orjson.loads(otlp_json(payloads.body(first)))
    (resource_spans,) = document["resourceSpans"]
    (scope_spans,) = resource_spans["scopeSpans"]
    spans = scope_spans["spans"]
    proto_spans = payloads.template.resource_spans[0].scope_spans[0].spans
    bodies = []
    for batch in range(first, first + count):
        payloads.body(batch)  # sets the template's ids and times to the batch's
        for item, span in zip(spans, proto_spans, strict=True):
            item["traceId"] = span.trace_id.hex()
            item["spanId"] = span.span_id.hex()
            if span.parent_span_id:
                item["parentSpanId"] = span.parent_span_id.hex()
            item["startTimeUnixNano"] = str(span.start_time_unix_nano)
            item["endTimeUnixNano"] = str(span.end_time_unix_nano)
        bodies.append(orjson.dumps(document))
    return bodies


def http_headers(protocol: Protocol, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPES[protocol], **(extra or {})}


def send(
    protocol: Protocol,
    url: str,
    grpc_target: str,
    bodies: list[bytes],
    clients: int,
    headers: dict[str, str] | None = None,
) -> Run:
    """Every body once, ``clients`` at a time, through bench/ingest.py's loops.

    ``url`` is the OTLP/HTTP traces URL; ``headers`` go out as gRPC metadata too
    (lowercased, as gRPC requires).
    """
    if protocol == "grpc":
        metadata = tuple((key.lower(), value) for key, value in (headers or {}).items())
        return send_all_grpc(grpc_target, bodies, clients, metadata)
    return send_all(url, bodies, clients, http_headers(protocol, headers))


def poster(
    protocol: Protocol, url: str, grpc_target: str, headers: dict[str, str] | None = None
) -> Callable[[], Send]:
    """A factory of one-connection senders: each thread of a paced run calls it once."""
    if protocol == "grpc":
        return _grpc_poster(grpc_target, headers or {})
    return _http_poster(url, http_headers(protocol, headers))


def _http_poster(url: str, headers: dict[str, str]) -> Callable[[], Send]:
    parts = urlsplit(url)

    def connect() -> Send:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)

        def post(body: bytes) -> int:
            while True:
                connection.request("POST", parts.path, body, headers)
                response = connection.getresponse()
                response.read()
                if response.status != 503:
                    return response.status
                time.sleep(float(response.getheader("Retry-After", "1")))

        return post

    return connect


def _grpc_poster(target: str, headers: dict[str, str]) -> Callable[[], Send]:
    import grpc

    channel = grpc.insecure_channel(target)
    export = channel.unary_unary(GRPC_EXPORT)
    metadata = tuple((key.lower(), value) for key, value in headers.items())

    def connect() -> Send:
        def post(body: bytes) -> int:
            while True:
                try:
                    export(body, timeout=120, metadata=metadata)
                    return 0
                except grpc.RpcError as error:
                    code = int(error.code().value[0])  # type: ignore[attr-defined]
                if code not in (GRPC_RESOURCE_EXHAUSTED, GRPC_UNAVAILABLE):
                    return code
                time.sleep(1)

        return post

    return connect
