"""The public fixtures: one chat in OpenInference and OTel GenAI form, and real Vercel
AI SDK v6 spans."""

from __future__ import annotations

import json

import pytest

from collector.normalize import Canonical, normalize
from store.vocabulary import USAGE_KINDS, SpanKind, Status
from tests.test_normalize_support import VERCEL_V6, load_flat, load_vercel, make_span

WEATHER_ANSWER = "The weather in Paris is currently rainy with a temperature of 57°F."
WEATHER_INPUT = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "Absolutely! Let me check the weather for you.",
        "tool_calls": [{"id": "1234", "name": "get_weather", "arguments": '{"location":"Paris"}'}],
    },
    {"role": "tool", "content": "rainy, 57°F", "tool_call_id": "1234"},
]
SAME_CHAT = [
    "openinference_client_span_tool_calls.json",
    "otel_genai_client_span_tool_calls.json",
    "otel_genai_deprecated_client_span_tool_calls.json",
]


def chat(name: str) -> Canonical:
    return normalize(make_span(load_flat(name)))


@pytest.mark.parametrize("name", SAME_CHAT)
def test_every_form_of_the_chat_yields_the_same_core_fields(name: str) -> None:
    result = chat(name)
    assert result.kind is SpanKind.LLM
    assert result.model == "gpt-4-0613"
    assert result.provider == "openai"
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (97, 52, 149)
    assert result.input_messages == WEATHER_INPUT
    assert result.output_messages == [{"role": "assistant", "content": WEATHER_ANSWER}]
    assert result.status is Status.OK


def test_openinference_and_genai_forms_agree_field_by_field() -> None:
    openinference = chat("openinference_client_span_tool_calls.json")
    genai = chat("otel_genai_client_span_tool_calls.json")
    for field in ("model", "provider", "input_tokens", "output_tokens", "total_tokens"):
        assert getattr(openinference, field) == getattr(genai, field), field
    assert openinference.input_messages == genai.input_messages


def test_request_model_comes_from_what_was_asked_for() -> None:
    # OpenInference has no request-model key here; its invocation parameters say gpt-4.
    assert chat("openinference_client_span_tool_calls.json").request_model == "gpt-4"
    assert chat("otel_genai_client_span_tool_calls.json").request_model == "gpt-4"


def test_conventions_name_what_each_form_used() -> None:
    assert chat("openinference_client_span_tool_calls.json").conventions == ["openinference"]
    assert chat("otel_genai_client_span_tool_calls.json").conventions == ["otel_genai"]
    assert chat("otel_genai_deprecated_client_span_tool_calls.json").conventions == [
        "otel_genai",
        "otel_genai_deprecated",
    ]


def test_genai_request_parameters_are_reported_unmapped() -> None:
    # No canonical column holds request parameters yet; they are reported, not hidden.
    assert chat("otel_genai_client_span_tool_calls.json").unmapped == [
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.request.top_p",
        "gen_ai.response.id",
    ]


def test_finish_reasons_from_the_genai_attribute() -> None:
    assert chat("otel_genai_client_span_tool_calls.json").finish_reasons == ["stop"]


def test_input_value_is_the_display_text_of_an_openinference_llm_span() -> None:
    attributes = load_flat("openinference_client_span_input_output_only.json")
    result = normalize(make_span(attributes))
    assert result.input_text == attributes["input.value"]
    assert result.output_text == attributes["output.value"]
    assert result.input_messages is None
    assert result.tool_arguments is None  # input.value is a tool's input only on tool spans


def test_display_text_falls_back_on_messages() -> None:
    result = chat("otel_genai_deprecated_client_span_tool_calls.json")
    assert result.input_text == "Weather in Paris?"
    assert result.output_text == WEATHER_ANSWER


def test_tool_execution_span() -> None:
    result = normalize(make_span(load_flat("otel_genai_tool_execution_span.json")))
    assert result.kind is SpanKind.TOOL
    assert result.tool_name == "get_weather"
    assert result.tool_call_id == "1234"
    assert result.tool_arguments == '{"city": "New York"}'
    assert result.tool_result is not None
    assert json.loads(result.tool_result)["status"] == "success"
    assert result.model is None
    assert result.unmapped == ["gen_ai.tool.description", "gen_ai.tool.type"]


def vercel(name: str, index: int = 0) -> Canonical:
    return normalize(load_vercel(name)[index])


def test_vercel_outer_generate_text_is_a_chain() -> None:
    result = vercel("ai-generateText.json")
    assert result.kind is SpanKind.CHAIN
    assert result.trace_name == "test-generate-text"
    assert result.input_messages == [
        {"role": "user", "content": "Write a haiku about programming."}
    ]
    assert result.conventions == ["vercel_ai"]


def test_vercel_do_generate_is_the_llm_call_with_the_usage() -> None:
    result = vercel("ai-generateText-doGenerate.json")
    assert result.kind is SpanKind.LLM
    assert result.model == "gpt-4o-mini-2024-07-18"
    assert result.request_model == "gpt-4o-mini"
    assert result.provider == "openai"  # gen_ai.system is "openai.responses" here
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (14, 20, 34)
    assert result.finish_reasons == ["stop"]
    assert result.input_text == "Write a haiku about programming."
    assert result.output_text is not None
    assert result.output_text.startswith("Lines of code align")
    assert result.output_messages == [{"role": "assistant", "content": result.output_text}]


def test_vercel_multi_turn_messages_keep_the_system_prompt() -> None:
    result = vercel("ai-generateText-doGenerate.json", 1)
    assert [message["role"] for message in result.input_messages or ()] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert result.system_instructions == "You are a helpful assistant."
    assert result.input_text == "And what is 3 + 3?"
    assert result.output_text == "3 + 3 equals 6."


def test_vercel_stream_usage_details() -> None:
    result = vercel("ai-streamText-doStream.json")
    assert result.kind is SpanKind.LLM
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (15, 112, 127)
    assert result.reasoning_tokens == 0  # zero is a value, not "unknown"
    assert result.cache_read_tokens == 0


def test_vercel_generate_object_output_is_the_object() -> None:
    result = vercel("ai-generateObject-doGenerate.json")
    assert result.kind is SpanKind.LLM
    assert result.output_text is not None
    assert json.loads(result.output_text)["name"] == "Scrambled Eggs"


def test_vercel_embeddings() -> None:
    outer = vercel("ai-embed.json")
    inner = vercel("ai-embed-doEmbed.json")
    assert outer.kind is SpanKind.CHAIN
    assert inner.kind is SpanKind.EMBEDDING
    assert inner.model == "text-embedding-3-small"
    assert inner.provider == "openai"  # ai.model.provider "openai.embedding"
    assert inner.input_tokens == 10
    assert inner.output_tokens is None
    assert inner.input_text == '["\\"The quick brown fox jumps over the lazy dog.\\""]'


def test_vercel_trace_usage_is_counted_once_by_the_usage_kinds() -> None:
    # The outer spans repeat their child's usage (SEMCONV 6.3); summing only the kinds
    # the store rolls up gives each call once.
    results = [normalize(span) for span in load_vercel("all-spans.json")]
    counted = sum(r.input_tokens or 0 for r in results if r.kind in USAGE_KINDS)
    assert counted == 14 + 50 + 63 + 15 + 10
    assert sum(1 for r in results if r.kind is SpanKind.CHAIN) == 5


def test_every_vercel_fixture_span_normalizes() -> None:
    for path in sorted(VERCEL_V6.glob("ai-*.json")):
        for span in load_vercel(path.name):
            result = normalize(span)
            assert "vercel_ai" in result.conventions, path.name
            assert result.kind in (SpanKind.CHAIN, SpanKind.LLM, SpanKind.EMBEDDING)
