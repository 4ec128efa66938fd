"""The real OpenTelemetry SDK exports an agent run over OTLP/HTTP protobuf; the API returns it."""

from __future__ import annotations

import json

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.server import Server

MESSAGES_IN = [{"role": "user", "parts": [{"type": "text", "content": "Refund order 1042"}]}]
MESSAGES_OUT = [
    {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "Let me look that order up."},
            {"type": "tool_call", "id": "call_1", "name": "lookup_order",
             "arguments": {"order": "1042"}},
        ],
        "finish_reason": "tool_call",
    }
]  # fmt: skip


def run_agent(server: Server, project: str) -> str:
    provider = TracerProvider(
        resource=Resource({"service.name": "support-agent", "service.version": "1.4.0"})
    )
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("support-agent")
    with tracer.start_as_current_span(
        "invoke_agent support",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "support",
            "gen_ai.agent.version": "2.0.1",
            # An agent span repeating its children's usage must not be counted again.
            "gen_ai.usage.input_tokens": 999,
            "gen_ai.usage.output_tokens": 999,
        },
    ) as agent:
        trace_id = format(agent.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
                "gen_ai.input.messages": json.dumps(MESSAGES_IN),
                "gen_ai.output.messages": json.dumps(MESSAGES_OUT),
                "gen_ai.conversation.id": "conv-42",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool lookup_order",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.call.arguments": '{"order": "1042"}',
                "gen_ai.tool.call.result": '{"status": "delivered"}',
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool refund",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund"},
        ) as failing:
            failing.record_exception(TimeoutError("refund service timed out"))
            failing.set_status(Status(StatusCode.ERROR, "refund service timed out"))
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 200,
                "gen_ai.usage.output_tokens": 50,
                "gen_ai.usage.cache_read.input_tokens": 100,
            },
        ):
            pass
    assert provider.force_flush(10_000)
    provider.shutdown()
    return trace_id


def test_sdk_trace_is_stored_with_canonical_fields(server: Server, project: str) -> None:
    trace_id = run_agent(server, project)

    listing = httpx.get(f"{server.url}/api/traces", params={"project": project}).json()
    assert [t["trace_id"] for t in listing["traces"]] == [trace_id]
    assert listing["next_cursor"] is None
    trace = listing["traces"][0]
    assert trace["project"] == project
    assert trace["service"] == "support-agent"
    assert trace["name"] == "invoke_agent support"
    assert trace["agent_name"] == "support"
    assert trace["agent_version"] == "2.0.1"
    assert trace["session_id"] == "conv-42"  # set on one child, applies to the trace
    assert trace["span_count"] == 5
    assert trace["llm_call_count"] == 2
    assert trace["tool_call_count"] == 2
    assert (trace["input_tokens"], trace["output_tokens"]) == (320, 80)
    assert trace["cache_read_tokens"] == 100
    assert trace["status"] == "ok"  # the root succeeded; the agent recovered
    assert trace["error_count"] == 1
    assert trace["duration_ms"] > 0
    assert trace["start_time"].endswith("Z") and trace["start_time"] <= trace["end_time"]

    detail = httpx.get(f"{server.url}/api/traces/{trace_id}").json()
    assert detail["trace_id"] == trace_id
    [root] = detail["spans"]
    assert root["kind"] == "agent" and root["parent_span_id"] is None
    children = root["children"]
    assert [c["name"] for c in children] == [
        "chat gpt-4o", "execute_tool lookup_order", "execute_tool refund", "chat gpt-4o",
    ]  # fmt: skip
    assert [c["kind"] for c in children] == ["llm", "tool", "tool", "llm"]
    first_llm, lookup, refund, _ = children
    assert first_llm["model"] == "gpt-4o-2024-08-06"
    assert first_llm["request_model"] == "gpt-4o"
    assert first_llm["provider"] == "openai"
    assert (first_llm["input_tokens"], first_llm["output_tokens"]) == (120, 30)
    assert first_llm["input_messages"][0]["role"] == "user"
    assert first_llm["input_messages"][0]["content"] == "Refund order 1042"
    tool_calls = first_llm["output_messages"][0]["tool_calls"]
    assert tool_calls[0]["name"] == "lookup_order"
    assert "otel_genai" in first_llm["conventions"]
    assert first_llm["attributes"]["gen_ai.request.model"] == "gpt-4o"  # raw kept
    assert first_llm["resource_attributes"]["service.name"] == "support-agent"
    assert first_llm["scope_name"] == "support-agent"
    assert lookup["tool_name"] == "lookup_order"
    assert json.loads(lookup["tool_arguments"]) == {"order": "1042"}
    assert json.loads(lookup["tool_result"]) == {"status": "delivered"}
    assert refund["status"] == "error"
    assert refund["error_message"] == "refund service timed out"
    assert refund["events"][0]["name"] == "exception"
