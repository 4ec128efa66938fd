"""OTLP/gRPC: the second door to the same pipeline, with gRPC's own status codes."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from store.models import Span
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server
from tests.test_backpressure import wait_for, writes_blocked

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc_target) as open_channel:
        yield open_channel


def export(
    channel: grpc.Channel,
    body: bytes,
    project: str | None = None,
    compression: grpc.Compression | None = None,
) -> ExportTraceServiceResponse:
    call = channel.unary_unary(EXPORT)  # raw bytes both ways
    metadata = None if project is None else (("x-reasonlens-project", project),)
    reply = call(body, metadata=metadata, timeout=30, compression=compression)
    return ExportTraceServiceResponse.FromString(reply)


def llm_spans(seed: str, count: int = 3) -> ExportTraceServiceRequest:
    ids = Ids(seed)
    trace = ids.trace()
    return request(
        SpanSpec(
            trace,
            ids.span(),
            f"chat {i}",
            1_000 + i,
            2_000 + i,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 10 + i,
                "gen_ai.usage.output_tokens": 5,
            },
        )
        for i in range(count)
    )


def test_sdk_grpc_exporter_with_gzip_stores_every_span(server: Server, project: str) -> None:
    exporter = OTLPSpanExporter(
        endpoint=server.grpc_target,
        insecure=True,
        compression=grpc.Compression.Gzip,
        headers=(("x-reasonlens-project", project),),
    )
    results: list[SpanExportResult] = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span: object) -> None:
            results.append(exporter.export([span]))  # type: ignore[list-item]

    provider = TracerProvider(resource=Resource({"service.name": "grpc-agent"}))
    provider.add_span_processor(Recording(exporter))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("invoke_agent planner") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "planner")
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            chat.set_attribute("gen_ai.usage.input_tokens", 42)
            chat.set_attribute("gen_ai.usage.output_tokens", 7)
    provider.shutdown()

    assert results == [SpanExportResult.SUCCESS, SpanExportResult.SUCCESS]
    trace = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": project}).json()
    assert trace["service"] == "grpc-agent"
    assert trace["agent_name"] == "planner"
    assert (trace["span_count"], trace["input_tokens"], trace["output_tokens"]) == (2, 42, 7)
    (agent,) = trace["spans"]
    assert agent["children"][0]["model"] == "gpt-4o-mini"


def test_grpc_and_http_store_the_same_rows(server: Server, channel: grpc.Channel) -> None:
    body = llm_spans("same rows").SerializeToString()
    assert post(server.url, body, project="via-http").status_code == 200
    export(channel, body, project="via-grpc")

    def stored(project: str) -> list[dict[str, object]]:
        listing = httpx.get(f"{server.url}/api/traces", params={"project": project}).json()
        (summary,) = listing["traces"]
        trace = httpx.get(
            f"{server.url}/api/traces/{summary['trace_id']}", params={"project": project}
        ).json()
        return [{**span, "children": None} for span in trace["spans"]]

    assert stored("via-grpc") == stored("via-http")


def test_partial_success_names_the_rejected_spans(channel: grpc.Channel, project: str) -> None:
    message = llm_spans("partial")
    message.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01\x02"
    response = export(channel, message.SerializeToString(), project=project)
    assert response.partial_success.rejected_spans == 1
    assert "span_id must be 8 bytes" in response.partial_success.error_message


def assert_status(error: grpc.RpcError, code: grpc.StatusCode, text: str) -> None:
    assert isinstance(error, grpc.Call)
    assert error.code() == code, error.details()
    assert text in (error.details() or "")


def test_undecodable_protobuf_is_invalid_argument(
    server: Server, channel: grpc.Channel, project: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        export(channel, b"\xff\xff\xff not protobuf", project=project)
    assert_status(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "not a valid OTLP")
    assert server.count(Span, project) == 0


def test_bad_project_metadata_is_invalid_argument(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        export(channel, llm_spans("bad project").SerializeToString(), project=" ")
    assert_status(caught.value, grpc.StatusCode.INVALID_ARGUMENT, "x-reasonlens-project")


def test_oversized_and_bomb_messages_are_resource_exhausted(
    fresh_db: str,
) -> None:
    server = Server(fresh_db, env={"REASONLENS_MAX_BODY_BYTES": "100000"}).start()
    try:
        with grpc.insecure_channel(server.grpc_target) as small:
            # Large on the wire.
            big = llm_spans("big", count=1)
            big.resource_spans[0].scope_spans[0].spans[0].name = "x" * 200_000
            with pytest.raises(grpc.RpcError) as caught:
                export(small, big.SerializeToString(), project="limits")
            assert_status(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, "")
            # Small on the wire, 200 kB once gzip is undone.
            assert len(gzip.compress(big.SerializeToString())) < 100_000
            with pytest.raises(grpc.RpcError) as caught:
                export(
                    small,
                    big.SerializeToString(),
                    project="limits",
                    compression=grpc.Compression.Gzip,
                )
            assert_status(caught.value, grpc.StatusCode.RESOURCE_EXHAUSTED, "")
            # The server is unharmed and a normal export still works.
            export(small, llm_spans("after").SerializeToString(), project="limits")
        assert server.count(Span, "limits") == 3
    finally:
        server.close()


def test_full_queue_is_resource_exhausted_with_retry_info(fresh_db: str) -> None:
    env = {
        "REASONLENS_WRITE_QUEUE_SPANS": "3",
        "REASONLENS_WRITE_BATCH_SPANS": "3",
        "REASONLENS_RETRY_AFTER_SECONDS": "7",
    }
    server = Server(fresh_db, env=env).start()
    try:
        with grpc.insecure_channel(server.grpc_target) as channel:
            with writes_blocked(fresh_db):
                held = [
                    threading.Thread(
                        target=export,
                        args=(channel, llm_spans(f"held {i}").SerializeToString(), "bp"),
                    )
                    for i in range(2)
                ]
                held[0].start()
                wait_for(lambda: server.health()["writing_spans"] == 3)
                held[1].start()
                wait_for(lambda: server.health()["write_queue_spans"] == 3)
                with pytest.raises(grpc.RpcError) as caught:
                    export(channel, llm_spans("refused").SerializeToString(), project="bp")
            for thread in held:
                thread.join(30)
        error = caught.value
        assert_status(error, grpc.StatusCode.RESOURCE_EXHAUSTED, "write queue full")
        assert isinstance(error, grpc.Call)
        trailers = dict(error.trailing_metadata() or ())
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert status.code == code_pb2.RESOURCE_EXHAUSTED
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry)
        assert retry.retry_delay.seconds == 7
        # What the OTel SDK exporter reads for its backoff.
        sdk_retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert sdk_retry.retry_delay.seconds == 7
        # The held requests were stored once the lock was released; the refused one not.
        assert server.count(Span, "bp") == 6
    finally:
        server.close()


def test_grpc_port_taken_fails_with_a_clear_message(server: Server, fresh_db: str) -> None:
    clash = Server(fresh_db, grpc_port=server.grpc_port)
    with pytest.raises(RuntimeError) as caught:
        clash.start(timeout=30)
    assert "cannot listen for OTLP/gRPC" in str(caught.value)
    assert "port in use" in str(caught.value)
    assert "--grpc-port" in str(caught.value)
    clash.close()
