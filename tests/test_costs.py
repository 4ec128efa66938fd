"""Costs at ingest, end to end: the real SDK sends model calls in several conventions; the
store prices them once each, keeps a reported cost apart, and explains every cost."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from store.pricing.prices import Price
from store.pricing.registry import registry_price
from tests.server import Server

# (span name, attributes): the same call, 1,000 input tokens of which 600 were read
# from the cache, 500 output of which 200 reasoning, in each convention's own words.
CALLS: dict[str, dict[str, Any]] = {
    "otel": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.cache_read.input_tokens": 600,
        "gen_ai.usage.output_tokens": 500,
        "gen_ai.usage.reasoning.output_tokens": 200,
    },
    "openinference": {
        "openinference.span.kind": "LLM",
        "llm.provider": "openai",
        "llm.model_name": "gpt-4o",
        "llm.token_count.prompt": 1000,
        "llm.token_count.prompt_details.cache_read": 600,
        "llm.token_count.completion": 500,
        "llm.token_count.completion_details.reasoning": 200,
    },
    # Langfuse's usage_details leave the cached tokens out of "input".
    "langfuse": {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o",
        "langfuse.observation.usage_details": (
            '{"input": 400, "input_cached_tokens": 600, "output": 300, '
            '"output_reasoning_tokens": 200}'
        ),
    },
}
EXTRA: dict[str, dict[str, Any]] = {
    # The client's own cost is the one used; the price book's is kept beside it.
    "reported": {
        **CALLS["otel"],
        "llm.cost.total": 0.5,
        "llm.cost.prompt": 0.4,
        "llm.cost.prompt_details.cache_read": 0.05,
        "llm.cost.completion": 0.1,
    },
    "unknown model": {**CALLS["otel"], "gen_ai.request.model": "in-house-llm-7"},
}


@pytest.fixture(scope="module")
def sent(server: Server) -> dict[str, str]:
    """Each call in a trace of its own, under an agent span that repeats the usage."""
    provider = TracerProvider(resource=Resource({"service.name": "costs"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": "costs"}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("costs")
    traces = {}
    for name, attributes in {**CALLS, **EXTRA}.items():
        with tracer.start_as_current_span(
            "invoke_agent shop",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "shop",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 500,
            },
        ) as agent:
            with tracer.start_as_current_span(name, attributes=attributes):
                pass
            traces[name] = format(agent.get_span_context().trace_id, "032x")
    provider.shutdown()
    return traces


def _detail(server: Server, trace_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    detail = httpx.get(f"{server.url}/api/traces/{trace_id}", timeout=30).json()
    (agent,) = detail["spans"]
    (call,) = agent["children"]
    assert agent["cost_source"] is None and agent["cost_breakdown"] is None
    return detail, call


def _gpt_4o() -> Price:
    price = registry_price("openai", "gpt-4o", datetime.now(UTC))
    assert price is not None
    return price


def _expected(price: Price) -> float:
    unit = price.usd_per_mtok
    # Reasoning has no price of its own at OpenAI: it stays in the output.
    return (400 * unit["input"] + 600 * unit["cache_read"] + 500 * unit["output"]) / 1e6


@pytest.mark.parametrize("convention", list(CALLS))
def test_each_convention_is_priced_once_on_the_call_never_on_the_agent(
    server: Server, sent: dict[str, str], convention: str
) -> None:
    detail, call = _detail(server, sent[convention])
    assert (call["input_tokens"], call["cache_read_tokens"]) == (1000, 600)
    assert (call["output_tokens"], call["reasoning_tokens"]) == (500, 200)
    price = _gpt_4o()
    assert call["cost_source"] == "computed" and call["reported_cost_usd"] is None
    assert math.isclose(call["computed_cost_usd"], _expected(price))
    assert call["cost_usd"] == call["computed_cost_usd"]
    # The trace sums its model calls only: the agent span's usage is not counted again.
    assert math.isclose(detail["cost_usd"], call["cost_usd"]) and detail["unpriced_count"] == 0
    assert detail["input_tokens"] == 1000

    breakdown = call["cost_breakdown"]
    assert breakdown["price"] == {
        "key": price.key,
        "source": "genai-prices",
        "version": price.version,
        "provider": "openai",
        "model": "gpt-4o",
    }
    assert [(line["kind"], line["tokens"]) for line in breakdown["lines"]] == [
        ("input", 400),
        ("cache_read", 600),
        ("output", 500),
    ]
    assert math.isclose(sum(line["usd"] for line in breakdown["lines"]), breakdown["usd"])
    assert math.isclose(breakdown["usd"], call["computed_cost_usd"])


def test_a_reported_cost_is_used_and_the_computed_one_kept_beside_it(
    server: Server, sent: dict[str, str]
) -> None:
    detail, call = _detail(server, sent["reported"])
    assert call["cost_source"] == "reported"
    assert call["cost_usd"] == call["reported_cost_usd"] == 0.5
    parts = {"prompt": 0.4, "prompt_details.cache_read": 0.05, "completion": 0.1}
    assert call["reported_cost_details"] == parts
    assert math.isclose(call["computed_cost_usd"], _expected(_gpt_4o()))
    assert detail["cost_usd"] == 0.5


def test_an_unknown_model_is_unpriced_never_0(server: Server, sent: dict[str, str]) -> None:
    detail, call = _detail(server, sent["unknown model"])
    assert call["cost_source"] == "unpriced"
    assert call["cost_usd"] is None and call["computed_cost_usd"] is None
    assert call["cost_breakdown"] is None
    assert detail["cost_usd"] is None and detail["unpriced_count"] == 1
    listed = httpx.get(
        f"{server.url}/api/traces", params={"project": "costs", "min_cost": "0"}, timeout=30
    ).json()
    assert sent["unknown model"] not in {trace["trace_id"] for trace in listed["traces"]}


def test_the_trace_page_says_which_cost_is_used_and_how(
    server: Server, sent: dict[str, str]
) -> None:
    _, call = _detail(server, sent["reported"])
    page = httpx.get(
        f"{server.url}/traces/{sent['reported']}", params={"span": call["span_id"]}, timeout=30
    ).text
    assert "Cost used: as reported by the client" in page
    assert "As the client reported it" in page and "prompt_details.cache_read" in page
    assert "genai-prices" in page and "cache_read" in page
    unknown = httpx.get(f"{server.url}/traces/{sent['unknown model']}", timeout=30).text
    assert "1 unpriced call: unknown, not $0" in unknown
