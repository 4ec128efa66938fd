"""Every OTLP exporter of the OpenTelemetry Python SDK: the same spans and log events,
sent over HTTP protobuf, HTTP JSON and gRPC (gzip where offered), are stored the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogs
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from tests.server import Server

Exporters = Callable[[Server, str], tuple[SpanExporter, LogRecordExporter]]


def http_protobuf(server: Server, project: str) -> tuple[SpanExporter, LogRecordExporter]:
    headers = {"x-reasonlens-project": project}
    return (
        HttpSpans(f"{server.url}/v1/traces", headers=headers, compression=HttpCompression.Gzip),
        HttpLogs(f"{server.url}/v1/logs", headers=headers, compression=HttpCompression.Gzip),
    )


def http_json(server: Server, project: str) -> tuple[SpanExporter, LogRecordExporter]:
    headers = {"x-reasonlens-project": project}
    return (
        JsonSpans(f"{server.url}/v1/traces", headers=headers, compression=JsonCompression.GZIP),
        JsonLogs(f"{server.url}/v1/logs", headers=headers),
    )


def grpc_protobuf(server: Server, project: str) -> tuple[SpanExporter, LogRecordExporter]:
    headers = (("x-reasonlens-project", project),)
    gzip = grpc.Compression.Gzip
    return (
        GrpcSpans(server.grpc_target, insecure=True, headers=headers, compression=gzip),
        GrpcLogs(server.grpc_target, insecure=True, headers=headers, compression=gzip),
    )


class FixedIds(IdGenerator):
    """The same ids on every run, so the three exports can be compared row for row."""

    def __init__(self) -> None:
        self._next = 0

    def generate_span_id(self) -> int:
        self._next += 1
        return 0x1000 + self._next

    def generate_trace_id(self) -> int:
        return 0xABCDEF


def run_agent(exporters: tuple[SpanExporter, LogRecordExporter]) -> None:
    span_exporter, log_exporter = exporters
    resource = Resource({"service.name": "exporter-check", "service.version": "3.1"})
    tracer_provider = TracerProvider(resource=resource, id_generator=FixedIds())
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    tracer = tracer_provider.get_tracer("tests.exporters", "1.0")
    logger = logger_provider.get_logger("tests.exporters")
    t = 1_700_000_000_000_000_000
    agent = tracer.start_span(
        "invoke_agent triage",
        start_time=t,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "triage",
            "gen_ai.conversation.id": "conv-1",
            "ratio": 0.1 + 0.2,
            "big": 2**62,
            "flags": [True, False],
        },
    )
    context = set_span_in_context(agent)
    chat = tracer.start_span(
        "chat gpt-4o",
        context=context,
        start_time=t + 1_000,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 80,
            "gen_ai.usage.cache_read.input_tokens": 1000,
        },
    )
    chat_context = set_span_in_context(chat)
    logger.emit(
        timestamp=t + 1_001,
        context=chat_context,
        event_name="gen_ai.user.message",
        body={"content": "Is my order late? ünïcødé ✓"},
    )
    logger.emit(
        timestamp=t + 1_002,
        context=chat_context,
        event_name="gen_ai.choice",
        body={"index": 0, "finish_reason": "stop", "message": {"content": "No, on time."}},
    )
    chat.end(end_time=t + 5_000)
    tool = tracer.start_span(
        "execute_tool lookup",
        context=context,
        start_time=t + 6_000,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup",
            "gen_ai.tool.call.arguments": json.dumps({"order": 7}),
        },
    )
    tool.add_event("retry", {"attempt": 2}, timestamp=t + 6_500)
    tool.set_status(Status(StatusCode.ERROR, "timeout"))
    tool.end(end_time=t + 9_000)
    agent.end(end_time=t + 10_000)
    tracer_provider.shutdown()
    logger_provider.shutdown()


def stored(server: Server, project: str) -> dict[str, Any]:
    trace_id = format(0xABCDEF, "032x")
    response = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": project})
    assert response.status_code == 200, response.text
    trace = response.json()
    trace.pop("project")
    for record in _walk(trace["spans"]):
        for log in record["logs"]:
            log.pop("observed_time_unix_nano")  # set by the SDK when each record is emitted
    return dict(trace)


def _walk(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = list(spans)
    while stack:
        span = stack.pop()
        out.append(span)
        stack.extend(span["children"])
    return out


@pytest.fixture(scope="module")
def reference(server: Server) -> dict[str, Any]:
    run_agent(http_protobuf(server, "exporters-reference"))
    return stored(server, "exporters-reference")


def test_the_reference_export_is_complete(reference: dict[str, Any]) -> None:
    assert (reference["span_count"], reference["agent_name"], reference["session_id"]) == (
        3,
        "triage",
        "conv-1",
    )
    (agent,) = reference["spans"]
    chat, tool = agent["children"]
    assert agent["attributes"] == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "triage",
        "gen_ai.conversation.id": "conv-1",
        "ratio": 0.1 + 0.2,
        "big": 2**62,
        "flags": [True, False],
    }
    assert (chat["input_tokens"], chat["cache_read_tokens"]) == (1200, 1000)
    assert chat["input_messages"] == [{"role": "user", "content": "Is my order late? ünïcødé ✓"}]
    assert chat["output_messages"] == [{"role": "assistant", "content": "No, on time."}]
    assert (tool["status"], tool["status_message"]) == ("error", "timeout")
    assert tool["events"][0]["attributes"] == {"attempt": 2}


@pytest.mark.parametrize("exporters", [http_json, grpc_protobuf], ids=["http-json", "grpc"])
def test_every_exporter_stores_what_http_protobuf_stores(
    server: Server, project: str, reference: dict[str, Any], exporters: Exporters
) -> None:
    run_agent(exporters(server, project))
    assert stored(server, project) == reference
