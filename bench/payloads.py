"""Realistic agent-trace OTLP payloads for benchmarks: deterministic, any size, ~1 KB/span.

A batch of 500 spans holds 50 traces of 10 spans: an agent root, four LLM calls
(GenAI attributes, JSON messages), four tool calls and a retrieval. Batches share
one template message and differ only in their ids, so generating a million spans
takes seconds, not minutes, and every span is unique (no idempotent short-cuts).
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

SPANS_PER_TRACE = 10
T0 = 1_760_000_000_000_000_000


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _messages(rng: random.Random, turn: int) -> tuple[str, str]:
    question = " ".join(rng.choice(WORDS) for _ in range(85))
    answer = " ".join(rng.choice(WORDS) for _ in range(50))
    input_messages = [
        {"role": "system", "parts": [{"type": "text", "content": "You are a checkout agent."}]},
        {"role": "user", "parts": [{"type": "text", "content": f"{question} (turn {turn})"}]},
    ]
    output_messages = [
        {
            "role": "assistant",
            "finish_reason": "tool_call",
            "parts": [
                {"type": "text", "content": answer},
                {
                    "type": "tool_call",
                    "id": f"call_{turn}",
                    "name": "lookup_order",
                    "arguments": {"order_id": rng.randint(1000, 9999)},
                },
            ],
        }
    ]
    return json.dumps(input_messages), json.dumps(output_messages)


WORDS = (
    "order",
    "refund",
    "shipping",
    "invoice",
    "customer",
    "account",
    "payment",
    "card",
    "address",
    "delivery",
    "status",
    "tracking",
    "return",
    "policy",
    "warehouse",
    "carrier",
    "discount",
    "coupon",
    "total",
    "tax",
)


def _trace_spans(rng: random.Random, t: int, agent: str, version: str) -> list[Span]:
    start = T0 + t * 5_000_000_000
    spans = [
        Span(
            name=f"invoke_agent {agent}",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start,
            end_time_unix_nano=start + 4_000_000_000,
            attributes=[
                _kv("gen_ai.operation.name", "invoke_agent"),
                _kv("gen_ai.agent.name", agent),
                _kv("gen_ai.agent.version", version),
                _kv("gen_ai.conversation.id", f"conv-{rng.randrange(10_000)}"),
                _kv("user.id", f"user-{rng.randrange(1000)}"),
                _kv("input.value", "Where is my order? " * 4),
                _kv("output.value", "Your order ships tomorrow. " * 3),
            ],
        )
    ]
    for i in range(4):
        llm_start = start + (2 * i + 1) * 400_000_000
        input_messages, output_messages = _messages(rng, i)
        spans.append(
            Span(
                name="chat gpt-4o-mini",
                kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=llm_start,
                end_time_unix_nano=llm_start + 350_000_000,
                attributes=[
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", "openai"),
                    _kv("gen_ai.request.model", "gpt-4o-mini"),
                    _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                    _kv("gen_ai.request.temperature", 0.2),
                    _kv("gen_ai.usage.input_tokens", rng.randint(200, 3000)),
                    _kv("gen_ai.usage.output_tokens", rng.randint(20, 400)),
                    _kv("llm.cost.total", round(rng.uniform(0.0001, 0.02), 6)),
                    _kv("gen_ai.response.finish_reasons", "tool_call"),
                    _kv("gen_ai.input.messages", input_messages),
                    _kv("gen_ai.output.messages", output_messages),
                ],
            )
        )
        tool_start = llm_start + 360_000_000
        status = (
            Status(code=Status.STATUS_CODE_ERROR, message="timeout")
            if rng.random() < 0.05
            else Status()
        )
        spans.append(
            Span(
                name="execute_tool lookup_order",
                kind=Span.SPAN_KIND_INTERNAL,
                status=status,
                start_time_unix_nano=tool_start,
                end_time_unix_nano=tool_start + 30_000_000,
                attributes=[
                    _kv("gen_ai.operation.name", "execute_tool"),
                    _kv("gen_ai.tool.name", "lookup_order"),
                    _kv("gen_ai.tool.call.id", f"call_{i}"),
                    _kv("gen_ai.tool.call.arguments", json.dumps({"order_id": 1234 + i})),
                    _kv(
                        "gen_ai.tool.call.result",
                        json.dumps(
                            {
                                "status": "shipped",
                                "carrier": "UPS",
                                "eta": "2026-11-24",
                                "items": [{"sku": f"SKU-{i}{j}", "qty": 1} for j in range(3)],
                            }
                        ),
                    ),
                ],
            )
        )
    spans.append(
        Span(
            name="retrieval policies",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=start + 100_000_000,
            end_time_unix_nano=start + 150_000_000,
            attributes=[
                _kv("gen_ai.operation.name", "retrieval"),
                _kv("gen_ai.data_source.id", "kb"),
                _kv("gen_ai.retrieval.query.text", "refund policy for damaged items"),
            ],
        )
    )
    return spans


class Payloads:
    """Serialized ExportTraceServiceRequest bodies of ``batch_size`` spans each."""

    def __init__(self, batch_size: int = 500, seed: int = 1) -> None:
        if batch_size % SPANS_PER_TRACE:
            raise ValueError(f"batch_size must be a multiple of {SPANS_PER_TRACE}")
        rng = random.Random(seed)
        self.seed = seed
        self.traces_per_batch = batch_size // SPANS_PER_TRACE
        self.template = ExportTraceServiceRequest()
        resource_spans = ResourceSpans()
        resource_spans.resource.attributes.extend(
            [
                _kv("service.name", "checkout-agent"),
                _kv("service.version", "1.4.0"),
                _kv("telemetry.sdk.language", "python"),
                _kv("deployment.environment", "prod"),
            ]
        )
        scope_spans = ScopeSpans()
        scope_spans.scope.name = "checkout-agent"
        for t in range(self.traces_per_batch):
            agent, version = rng.choice(
                [
                    ("checkout", "1.4.0"),
                    ("checkout", "1.5.0"),
                    ("support", "2.1.0"),
                    ("planner", "0.9.0"),
                ]
            )
            scope_spans.spans.extend(_trace_spans(rng, t, agent, version))
        resource_spans.scope_spans.append(scope_spans)
        self.template.resource_spans.append(resource_spans)
        self._spans = self.template.resource_spans[0].scope_spans[0].spans
        self._times = [(span.start_time_unix_nano, span.end_time_unix_nano) for span in self._spans]

    def body(self, batch: int) -> bytes:
        """Batch ``batch`` with its own trace and span ids and shifted timestamps."""
        shift = batch * 60_000_000_000
        for index, span in enumerate(self._spans):
            t, s = divmod(index, SPANS_PER_TRACE)
            span.trace_id = struct.pack(">IIQ", self.seed, batch, t + 1)
            span.span_id = struct.pack(">IHH", batch, t, s + 1)
            span.parent_span_id = b"" if s == 0 else struct.pack(">IHH", batch, t, 1)
            start, end = self._times[index]
            span.start_time_unix_nano = start + shift
            span.end_time_unix_nano = end + shift
        return self.template.SerializeToString()

    def bodies(self, count: int, first: int = 0) -> Iterator[bytes]:
        for batch in range(first, first + count):
            yield self.body(batch)
