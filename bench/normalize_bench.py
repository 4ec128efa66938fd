"""Time ``collector.normalize.normalize`` on realistic agent traces.

The ingest target is 20,000 spans/s end to end, which leaves the normalizer about
15 µs per span. The spans mimic what agents actually send: per trace one Pydantic-AI
style ``invoke_agent`` span (with aggregated usage), three GenAI chat spans whose
messages are ~1 KB JSON strings, two ``execute_tool`` spans, and for variety an
OpenInference LLM span (flattened messages) and a Vercel ``doGenerate`` span.

Run: ``.venv/bin/python bench/normalize_bench.py [--spans 1000] [--rounds 7]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from collector.normalize import normalize
from collector.spans import RawSpan, Resource, Scope

RESOURCE = Resource(
    attributes={
        "service.name": "support-agent",
        "service.version": "1.4.2",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": "1.45.2",
        "deployment.environment.name": "production",
    }
)
SCOPE = Scope(name="pydantic-ai", version="1.0.0")


def _messages(rng: random.Random, turns: int) -> str:
    """A GenAI input-messages JSON string of roughly ``turns`` * 250 bytes."""
    words = ["order", "refund", "shipping", "invoice", "account", "weather", "policy", "help"]
    out: list[dict[str, Any]] = []
    for turn in range(turns):
        text = " ".join(rng.choice(words) for _ in range(30))
        out.append({"role": "user", "parts": [{"type": "text", "content": text}]})
        call_id = f"call_{turn}"
        out.append(
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": call_id,
                        "name": "lookup",
                        "arguments": {"q": text[:40]},
                    }
                ],
            }
        )
        out.append(
            {
                "role": "user",
                "parts": [
                    {
                        "type": "tool_call_response",
                        "id": call_id,
                        "name": "lookup",
                        "result": text[:60],
                    }
                ],
            }
        )
    return json.dumps(out)


def _span(name: str, attributes: dict[str, Any], index: int, parent: str | None) -> RawSpan:
    return RawSpan(
        trace_id=f"{index // 8:032x}",
        span_id=f"{index + 1:016x}",
        parent_span_id=parent,
        name=name,
        otel_kind=1,
        start_time_ns=0,
        end_time_ns=1_000_000,
        attributes=attributes,
        resource=RESOURCE,
        scope=SCOPE,
    )


def build_spans(count: int, seed: int = 42) -> list[RawSpan]:
    rng = random.Random(seed)
    spans: list[RawSpan] = []
    while len(spans) < count:
        index = len(spans)
        root = f"{index + 1:016x}"
        spans.append(
            _span(
                "invoke_agent support",
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "support",
                    "gen_ai.conversation.id": f"conv-{index}",
                    "gen_ai.system": "openai",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.aggregated_usage.input_tokens": 900,
                    "gen_ai.aggregated_usage.output_tokens": 300,
                    "final_result": "Your refund was issued.",
                    "logfire.msg": "support run",
                    "pydantic_ai.all_messages": _messages(rng, 2),
                    "gen_ai.agent.call.id": "x",
                },
                index,
                None,
            )
        )
        for _ in range(3):
            spans.append(
                _span(
                    "chat gpt-4o",
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.system": "openai",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.response.model": "gpt-4o-2024-08-06",
                        "gen_ai.response.id": "resp_1",
                        "gen_ai.usage.input_tokens": rng.randint(200, 900),
                        "gen_ai.usage.output_tokens": rng.randint(20, 300),
                        "gen_ai.usage.cache_read.input_tokens": 64,
                        "gen_ai.response.finish_reasons": ["stop"],
                        "gen_ai.input.messages": _messages(rng, 2),
                        "gen_ai.output.messages": json.dumps(
                            [
                                {
                                    "role": "assistant",
                                    "parts": [{"type": "text", "content": "Here is what I found."}],
                                    "finish_reason": "stop",
                                }
                            ]
                        ),
                        "gen_ai.system_instructions": json.dumps(
                            [{"type": "text", "content": "Be brief."}]
                        ),
                        "gen_ai.agent.name": "support",
                        "gen_ai.conversation.id": f"conv-{index}",
                        "server.address": "api.openai.com",
                    },
                    len(spans),
                    root,
                )
            )
        for _ in range(2):
            spans.append(
                _span(
                    "execute_tool lookup",
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": "lookup",
                        "gen_ai.tool.call.id": "call_0",
                        "gen_ai.tool.call.arguments": '{"q": "refund"}',
                        "gen_ai.tool.call.result": '{"status": "issued"}',
                        "gen_ai.agent.name": "support",
                        "logfire.msg": "running tool: lookup",
                    },
                    len(spans),
                    root,
                )
            )
        spans.append(
            _span(
                "ChatCompletion",
                {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4o-mini",
                    "llm.provider": "openai",
                    "llm.token_count.prompt": 120,
                    "llm.token_count.completion": 30,
                    "llm.token_count.total": 150,
                    "llm.input_messages.0.message.role": "system",
                    "llm.input_messages.0.message.content": "You are helpful.",
                    "llm.input_messages.1.message.role": "user",
                    "llm.input_messages.1.message.content": "Where is my order?",
                    "llm.output_messages.0.message.role": "assistant",
                    "llm.output_messages.0.message.content": "It ships tomorrow.",
                    "input.value": "Where is my order?",
                    "output.value": "It ships tomorrow.",
                    "session.id": f"conv-{index}",
                },
                len(spans),
                root,
            )
        )
        spans.append(
            _span(
                "ai.generateText.doGenerate",
                {
                    "ai.operationId": "ai.generateText.doGenerate",
                    "ai.model.id": "gpt-4o-mini",
                    "ai.model.provider": "openai.responses",
                    "gen_ai.system": "openai.responses",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "ai.response.model": "gpt-4o-mini-2024-07-18",
                    "ai.prompt.messages": json.dumps(
                        [
                            {
                                "role": "user",
                                "content": [
                                    {"type": "text", "text": "Write a haiku about refunds."}
                                ],
                            }
                        ]
                    ),
                    "ai.response.text": "Money flows back home",
                    "ai.response.finishReason": "stop",
                    "ai.usage.inputTokens": 14,
                    "ai.usage.outputTokens": 20,
                    "gen_ai.usage.input_tokens": 14,
                    "gen_ai.usage.output_tokens": 20,
                    "ai.telemetry.functionId": "haiku",
                },
                len(spans),
                root,
            )
        )
    return spans[:count]


def _per_span_kind(spans: list[RawSpan], rounds: int) -> dict[str, float]:
    """Median CPU µs per span for each span shape, to show where the time goes."""
    shapes: dict[str, list[RawSpan]] = {}
    for span in spans:
        shapes.setdefault(span.name, []).append(span)
    medians: dict[str, float] = {}
    for name, group in shapes.items():
        samples = []
        for _ in range(rounds):
            start = time.process_time()
            for span in group:
                normalize(span)
            samples.append((time.process_time() - start) / len(group) * 1e6)
        medians[name] = statistics.median(samples)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    spans = build_spans(args.spans)
    for span in spans[:50]:  # warm caches and the import-time tables
        normalize(span)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(args.rounds):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for span in spans:
            normalize(span)
        wall.append((time.perf_counter() - start_wall) / len(spans) * 1e6)
        cpu.append((time.process_time() - start_cpu) / len(spans) * 1e6)
    # CPU time is the figure to compare: on a shared machine wall time also counts the
    # time other processes held the core.
    median = statistics.median(cpu)
    print(
        f"{len(spans)} spans x {args.rounds} rounds: median {median:.2f} µs/span CPU "
        f"({1e6 / median:,.0f} spans/s; best {min(cpu):.2f}); "
        f"wall median {statistics.median(wall):.2f} µs/span"
    )
    for name, micros in _per_span_kind(spans, args.rounds).items():
        print(f"  {name:<28} {micros:6.2f} µs/span")


if __name__ == "__main__":
    main()
