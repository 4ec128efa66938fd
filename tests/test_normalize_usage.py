"""Tokens and cost (SEMCONV 6.2 usage rows): every alias, totals, cache semantics."""

from __future__ import annotations

import pytest

from store.vocabulary import SpanKind
from tests.test_normalize_support import run


def test_deprecated_usage_names() -> None:
    result = run({"gen_ai.usage.prompt_tokens": 11, "gen_ai.usage.completion_tokens": 7})
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (11, 7, 18)
    assert result.conventions == ["otel_genai_deprecated"]


def test_current_usage_names_win_over_deprecated_ones() -> None:
    result = run({"gen_ai.usage.prompt_tokens": 1, "gen_ai.usage.input_tokens": 2})
    assert result.input_tokens == 2


def test_usage_keys_are_read_from_every_convention() -> None:
    cases = {
        "llm.token_count.prompt": "input_tokens",
        "ai.usage.inputTokens": "input_tokens",
        "ai.usage.promptTokens": "input_tokens",
        "ai.usage.tokens": "input_tokens",
        "llm.token_count.completion": "output_tokens",
        "ai.usage.outputTokens": "output_tokens",
        "llm.token_count.total": "total_tokens",
        "gen_ai.usage.total_tokens": "total_tokens",
        "llm.usage.total_tokens": "total_tokens",
        "gen_ai.usage.reasoning.output_tokens": "reasoning_tokens",
        "llm.token_count.completion_details.reasoning": "reasoning_tokens",
        "gen_ai.usage.reasoning_tokens": "reasoning_tokens",
        "llm.usage.reasoning_tokens": "reasoning_tokens",
        "gen_ai.usage.output_tokens.reasoning": "reasoning_tokens",
        "gen_ai.usage.details.reasoning_tokens": "reasoning_tokens",
        "ai.usage.reasoningTokens": "reasoning_tokens",
        "gen_ai.usage.cache_read.input_tokens": "cache_read_tokens",
        "llm.token_count.prompt_details.cache_read": "cache_read_tokens",
        "gen_ai.usage.cache_read_input_tokens": "cache_read_tokens",
        "gen_ai.usage.input_tokens.cached": "cache_read_tokens",
        "gen_ai.usage.details.cache_read_tokens": "cache_read_tokens",
        "ai.usage.cachedInputTokens": "cache_read_tokens",
        "ai.usage.inputTokenDetails.cacheReadTokens": "cache_read_tokens",
        "gen_ai.usage.cache_write.input_tokens": "cache_write_tokens",
        "gen_ai.usage.cache_creation.input_tokens": "cache_write_tokens",
        "llm.token_count.prompt_details.cache_write": "cache_write_tokens",
        "gen_ai.usage.cache_creation_input_tokens": "cache_write_tokens",
        "gen_ai.usage.cache_write_input_tokens": "cache_write_tokens",
        "gen_ai.usage.input_tokens.cache_write": "cache_write_tokens",
        "gen_ai.usage.details.cache_write_tokens": "cache_write_tokens",
        "ai.usage.inputTokenDetails.cacheWriteTokens": "cache_write_tokens",
    }
    for key, field in cases.items():
        result = run({key: 41})
        assert getattr(result, field) == 41, key
        assert result.unmapped == [], key


def test_cached_tokens_stay_inside_the_input_total() -> None:
    # OTel counts cached tokens inside input_tokens: nothing is subtracted or added.
    result = run(
        {
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 800,
            "gen_ai.usage.cache_creation.input_tokens": 100,
        }
    )
    assert (result.input_tokens, result.cache_read_tokens, result.cache_write_tokens) == (
        1000,
        800,
        100,
    )
    assert result.total_tokens == 1050


def test_dev_cache_write_name_wins_over_cache_creation() -> None:
    result = run(
        {
            "gen_ai.usage.cache_write.input_tokens": 5,
            "gen_ai.usage.cache_creation.input_tokens": 6,
        }
    )
    assert result.cache_write_tokens == 5


def test_langfuse_usage_details_add_the_cache_back_once() -> None:
    details = (
        '{"input": 200, "input_cached_tokens": 800, "input_cache_creation": 100,'
        ' "output": 40, "output_reasoning_tokens": 10, "total": 1150}'
    )
    result = run({"langfuse.observation.usage_details": details})
    assert result.input_tokens == 1100
    assert result.cache_read_tokens == 800
    assert result.cache_write_tokens == 100
    assert result.output_tokens == 50
    assert result.reasoning_tokens == 10
    assert result.total_tokens == 1150


def test_total_is_input_plus_output_only_when_both_are_known() -> None:
    assert run({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4}).total_tokens == 7
    assert run({"gen_ai.usage.input_tokens": 3}).total_tokens is None
    assert run({}).input_tokens is None  # unknown is None, never zero


def test_agent_aggregated_usage_is_not_its_own() -> None:
    result = run(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.aggregated_usage.input_tokens": 900,
            "gen_ai.aggregated_usage.output_tokens": 300,
        },
        name="invoke_agent support",
    )
    assert result.kind is SpanKind.AGENT
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (None, None, None)
    assert result.unmapped == []  # deliberately ignored, not unknown
    assert "pydantic_ai" in result.conventions


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"llm.cost.total": 0.25}, 0.25),
        ({"gen_ai.usage.cost": "0.5"}, 0.5),
        ({"operation.cost": 0.125}, 0.125),
        ({"langfuse.observation.cost_details": '{"input": 0.1, "total": 0.3}'}, 0.3),
        ({"llm.cost.prompt": 0.25, "llm.cost.completion": 0.5}, 0.75),
        ({"llm.cost.total": 1.0, "gen_ai.usage.cost": 2.0}, 1.0),
        ({"llm.cost.total": -1.0}, None),
        ({"gen_ai.usage.input_tokens": 10}, None),  # no price table here
    ],
)
def test_cost_is_only_what_the_client_sent(attributes: dict[str, object], expected: object) -> None:
    assert run(attributes).cost_usd == expected


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            {
                "llm.cost.total": 0.9,
                "llm.cost.prompt": 0.6,
                "llm.cost.prompt_details.cache_read": 0.1,
                "llm.cost.completion": 0.3,
                "llm.cost.completion_details.reasoning": "0.2",
            },
            {
                "prompt": 0.6,
                "prompt_details.cache_read": 0.1,
                "completion": 0.3,
                "completion_details.reasoning": 0.2,
            },
        ),
        (
            {"langfuse.observation.cost_details": '{"input": 0.1, "output": 0.2, "total": 0.3}'},
            {"input": 0.1, "output": 0.2},
        ),
        (
            {"langfuse.observation.cost_details": '{"in\\u0000put": 0.1, "bad": -1}'},
            {"in\ufffdput": 0.1},
        ),
        ({"llm.cost.total": 0.9}, None),  # a total alone has no parts
        ({"langfuse.observation.cost_details": "[0.1]"}, None),
    ],
)
def test_cost_parts_are_kept_as_the_client_named_them(
    attributes: dict[str, object], expected: object
) -> None:
    result = run(attributes)
    assert result.cost_details == expected
    assert not any(key.startswith("llm.cost") for key in result.unmapped)
