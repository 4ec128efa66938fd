"""Token counts and client-reported cost (SEMCONV 6.2, usage rows; pitfalls in 6.3).

Counts are stored as the totals OTel GenAI defines: input includes cached tokens and
output includes reasoning tokens, with cache read/write and reasoning kept as subsets.
Nothing here subtracts: OpenInference, OTel and the AI SDK already count cached tokens
inside the input total. Langfuse's ``usage_details`` is the one source whose ``input``
leaves the cache out, so its cache details are added back once.

``gen_ai.aggregated_usage.*`` (Pydantic AI agent spans: the whole run's usage) is never
read, so an agent span is not credited with its children's tokens. Cost comes only
from what the client sent; pricing is the cost engine's job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.normalize.context import Context
from collector.normalize.conventions import (
    LANGFUSE,
    OPENINFERENCE,
    OPENLIT,
    OPENLLMETRY,
    OTEL_GENAI,
    OTEL_GENAI_DEPRECATED,
    PYDANTIC_AI,
    SENTRY,
    VERCEL_AI,
)
from collector.normalize.sources import Attr, Derived, Field, json_key
from collector.normalize.values import as_cost, as_int

USAGE_DETAILS = "langfuse.observation.usage_details"
COST_DETAILS = "langfuse.observation.cost_details"

# Langfuse's free-form detail keys, in the order they are preferred.
DETAIL_CACHE_READ = ("input_cached_tokens", "input_cache_read", "cache_read_input_tokens")
DETAIL_CACHE_WRITE = ("input_cache_creation", "input_cache_write")
DETAIL_REASONING = ("output_reasoning_tokens", "output_reasoning")


def _detail(details: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        count = as_int(details.get(key))
        if count is not None:
            return count
    return None


def _langfuse(read: Callable[[dict[str, Any]], int | None]) -> Derived:
    def get(ctx: Context) -> int | None:
        details = ctx.json(USAGE_DETAILS)
        return read(details) if type(details) is dict else None

    return Derived(USAGE_DETAILS, get, (USAGE_DETAILS,), LANGFUSE)


def _input_with_cache(details: dict[str, Any]) -> int | None:
    base = as_int(details.get("input"))
    if base is None:
        return None
    read = _detail(details, DETAIL_CACHE_READ) or 0
    write = _detail(details, DETAIL_CACHE_WRITE) or 0
    return base + read + write


def _output_with_reasoning(details: dict[str, Any]) -> int | None:
    base = as_int(details.get("output"))
    if base is None:
        return None
    return base + (_detail(details, DETAIL_REASONING) or 0)


INPUT_TOKENS = Field(
    "input_tokens",
    (
        Attr("gen_ai.usage.input_tokens", OTEL_GENAI, as_int),
        Attr("gen_ai.usage.prompt_tokens", OTEL_GENAI_DEPRECATED, as_int),
        Attr("llm.token_count.prompt", OPENINFERENCE, as_int),
        Attr("ai.usage.inputTokens", VERCEL_AI, as_int),
        Attr("ai.usage.promptTokens", VERCEL_AI, as_int),
        Attr("ai.usage.tokens", VERCEL_AI, as_int),
        _langfuse(_input_with_cache),
    ),
)

OUTPUT_TOKENS = Field(
    "output_tokens",
    (
        Attr("gen_ai.usage.output_tokens", OTEL_GENAI, as_int),
        Attr("gen_ai.usage.completion_tokens", OTEL_GENAI_DEPRECATED, as_int),
        Attr("llm.token_count.completion", OPENINFERENCE, as_int),
        Attr("ai.usage.outputTokens", VERCEL_AI, as_int),
        Attr("ai.usage.completionTokens", VERCEL_AI, as_int),
        _langfuse(_output_with_reasoning),
    ),
)

# When no source has a total, the normalizer adds input and output (never cache on top).
TOTAL_TOKENS = Field(
    "total_tokens",
    (
        Attr("llm.token_count.total", OPENINFERENCE, as_int),
        Attr("gen_ai.usage.total_tokens", OPENLIT, as_int),
        Attr("llm.usage.total_tokens", OPENLLMETRY, as_int),
        Attr("ai.usage.totalTokens", VERCEL_AI, as_int),
        _langfuse(lambda details: as_int(details.get("total"))),
    ),
)

REASONING_TOKENS = Field(
    "reasoning_tokens",
    (
        Attr("gen_ai.usage.reasoning.output_tokens", OTEL_GENAI, as_int),
        Attr("llm.token_count.completion_details.reasoning", OPENINFERENCE, as_int),
        Attr("gen_ai.usage.reasoning_tokens", OPENLLMETRY, as_int),
        Attr("llm.usage.reasoning_tokens", OPENLLMETRY, as_int),
        Attr("gen_ai.usage.output_tokens.reasoning", SENTRY, as_int),
        Attr("gen_ai.usage.details.reasoning_tokens", PYDANTIC_AI, as_int),
        Attr("ai.usage.reasoningTokens", VERCEL_AI, as_int),
        _langfuse(lambda details: _detail(details, DETAIL_REASONING)),
    ),
)

CACHE_READ_TOKENS = Field(
    "cache_read_tokens",
    (
        Attr("gen_ai.usage.cache_read.input_tokens", OTEL_GENAI, as_int),
        Attr("llm.token_count.prompt_details.cache_read", OPENINFERENCE, as_int),
        Attr("gen_ai.usage.cache_read_input_tokens", OPENLLMETRY, as_int),
        Attr("gen_ai.usage.input_tokens.cached", SENTRY, as_int),
        Attr("gen_ai.usage.details.cache_read_tokens", PYDANTIC_AI, as_int),
        Attr("ai.usage.cachedInputTokens", VERCEL_AI, as_int),
        Attr("ai.usage.inputTokenDetails.cacheReadTokens", VERCEL_AI, as_int),
        _langfuse(lambda details: _detail(details, DETAIL_CACHE_READ)),
    ),
)

# gen_ai.usage.cache_write_input_tokens is Strands' spelling; Strands is not in the
# convention vocabulary, so the key is known without naming a convention.
CACHE_WRITE_TOKENS = Field(
    "cache_write_tokens",
    (
        Attr("gen_ai.usage.cache_write.input_tokens", OTEL_GENAI, as_int),
        Attr("gen_ai.usage.cache_creation.input_tokens", OTEL_GENAI, as_int),
        Attr("llm.token_count.prompt_details.cache_write", OPENINFERENCE, as_int),
        Attr("gen_ai.usage.cache_creation_input_tokens", OPENLLMETRY, as_int),
        Attr("gen_ai.usage.cache_write_input_tokens", None, as_int),
        Attr("gen_ai.usage.input_tokens.cache_write", SENTRY, as_int),
        Attr("gen_ai.usage.details.cache_write_tokens", PYDANTIC_AI, as_int),
        Attr("ai.usage.inputTokenDetails.cacheWriteTokens", VERCEL_AI, as_int),
        _langfuse(lambda details: _detail(details, DETAIL_CACHE_WRITE)),
    ),
)


def _cost_parts(ctx: Context) -> float | None:
    """OpenInference's prompt and completion costs, when no total was sent."""
    parts = [as_cost(ctx.found.get(key)) for key in ("llm.cost.prompt", "llm.cost.completion")]
    present = [part for part in parts if part is not None]
    return sum(present) if present else None


COST_USD = Field(
    "cost_usd",
    (
        Derived(
            COST_DETAILS, json_key(COST_DETAILS, "total", read=as_cost), (COST_DETAILS,), LANGFUSE
        ),
        Attr("llm.cost.total", OPENINFERENCE, as_cost),
        Attr("gen_ai.usage.cost", OPENLIT, as_cost),
        Attr("operation.cost", PYDANTIC_AI, as_cost),
        Derived(
            "llm.cost.prompt+completion",
            _cost_parts,
            ("llm.cost.prompt", "llm.cost.completion"),
            OPENINFERENCE,
        ),
    ),
)

# OpenInference's cost parts (SEMCONV 6.2): kept as sent, beside the total they add up to.
COST_PARTS = (
    "llm.cost.prompt",
    "llm.cost.completion",
    *(f"llm.cost.prompt_details.{part}" for part in ("input", "cache_read", "cache_write",
                                                      "cache_input", "audio")),
    *(f"llm.cost.completion_details.{part}" for part in ("output", "reasoning", "audio")),
)  # fmt: skip
MAX_COST_DETAILS = 32  # a Langfuse map is client JSON: bounded


def _cost_parts_sent(ctx: Context) -> dict[str, float] | None:
    parts = {key.removeprefix("llm.cost."): as_cost(ctx.found.get(key)) for key in COST_PARTS}
    sent = {name: cost for name, cost in parts.items() if cost is not None}
    return sent or None


def _langfuse_cost_details(ctx: Context) -> dict[str, float] | None:
    details = ctx.json(COST_DETAILS)
    if type(details) is not dict:
        return None
    sent = {}
    for name, value in details.items():
        cost = as_cost(value)
        if name != "total" and cost is not None and len(sent) < MAX_COST_DETAILS:
            sent[str(name)[:100].replace("\x00", "\ufffd")] = cost
    return sent or None


COST_DETAILS_SENT = Field(
    "cost_details",
    (
        Derived(COST_DETAILS, _langfuse_cost_details, (COST_DETAILS,), LANGFUSE),
        Derived("llm.cost.*", _cost_parts_sent, COST_PARTS, OPENINFERENCE),
    ),
)

USAGE_FIELDS: tuple[Field, ...] = (
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    TOTAL_TOKENS,
    REASONING_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    COST_USD,
    COST_DETAILS_SENT,
)


def total_fallback(input_tokens: int | None, output_tokens: int | None) -> int | None:
    """Input plus output when both are known: cache and reasoning are already inside."""
    if input_tokens is None or output_tokens is None:
        return None
    return input_tokens + output_tokens
