"""The pitfalls SEMCONV 6.3 asks to encode in tests, one test (or more) each."""

from __future__ import annotations

import json

from collector.normalize import normalize
from store.vocabulary import USAGE_KINDS, SpanKind
from tests.test_normalize_support import make_span, run


def test_only_model_calls_count_towards_a_trace_total() -> None:
    # An OTel invoke_agent span MAY repeat its children's usage; a Traceloop workflow
    # carries none; a Pydantic AI agent sends aggregated_usage. Only LLM/embedding
    # spans are summed, so the agent's repeat is kept on its row but never added.
    agent = run(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.output_tokens": 30,
            "gen_ai.aggregated_usage.input_tokens": 300,
        }
    )
    calls = [
        run({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": n}) for n in (100, 200)
    ]
    workflow = run({"traceloop.span.kind": "workflow", "traceloop.entity.name": "plan"})
    spans = [agent, *calls, workflow]
    assert agent.input_tokens == 300  # what the client said about this span
    assert workflow.input_tokens is None
    assert sum(s.input_tokens or 0 for s in spans if s.kind in USAGE_KINDS) == 300


def test_pydantic_aggregated_usage_never_becomes_the_agents_own() -> None:
    result = run(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.aggregated_usage.input_tokens": 900,
            "gen_ai.aggregated_usage.output_tokens": 90,
            "gen_ai.aggregated_usage.details.reasoning_tokens": 10,
        }
    )
    assert (result.input_tokens, result.output_tokens, result.reasoning_tokens) == (
        None,
        None,
        None,
    )


def test_openinference_prompt_count_already_includes_the_cache() -> None:
    # The Anthropic instrumentor sums input + cache_creation + cache_read into
    # llm.token_count.prompt; nothing is subtracted and nothing added on top.
    result = run(
        {
            "llm.token_count.prompt": 1500,
            "llm.token_count.completion": 20,
            "llm.token_count.prompt_details.cache_read": 1000,
            "llm.token_count.prompt_details.cache_write": 400,
        }
    )
    assert (result.input_tokens, result.cache_read_tokens, result.cache_write_tokens) == (
        1500,
        1000,
        400,
    )
    assert result.total_tokens == 1520


def test_vercel_input_tokens_include_cached_tokens() -> None:
    result = run({"ai.usage.inputTokens": 120, "ai.usage.cachedInputTokens": 100})
    assert (result.input_tokens, result.cache_read_tokens) == (120, 100)


def test_messages_as_json_string_or_structured_value_are_the_same() -> None:
    messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    as_string = run({"gen_ai.input.messages": json.dumps(messages)})
    as_array = run({"gen_ai.input.messages": messages})
    assert (
        as_string.input_messages == as_array.input_messages == [{"role": "user", "content": "hi"}]
    )


def test_tool_call_response_and_result_keys_both_occur() -> None:
    def result_of(key: str) -> object:
        part = {"type": "tool_call_response", "id": "c", key: {"ok": True}}
        messages = [{"role": "tool", "parts": [part]}]
        return run({"gen_ai.input.messages": json.dumps(messages)}).input_messages

    assert result_of("response") == result_of("result")
    assert result_of("response") == [
        {"role": "tool", "content": '{"ok":true}', "tool_call_id": "c"}
    ]


def test_openllmetry_content_may_be_a_json_string_of_parts() -> None:
    content = json.dumps([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    result = run({"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": content})
    assert result.input_messages == [{"role": "user", "content": "a\nb"}]


def test_plain_content_that_looks_like_json_stays_text() -> None:
    result = run({"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "[1, 2, 3]"})
    assert result.input_messages == [{"role": "user", "content": "[1, 2, 3]"}]


def test_three_different_gen_ai_prompt_keys_are_kept_apart() -> None:
    result = run(
        {
            "gen_ai.prompt": '[{"role": "user", "content": "deprecated content"}]',
            "gen_ai.prompt.name": "template-7",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "indexed content",
            "gen_ai.prompt.notes": "no index: not a prompt message",
        }
    )
    assert result.prompt_name == "template-7"
    # The indexed form is preferred over the deprecated JSON string (6.2 order).
    assert result.input_messages == [{"role": "user", "content": "indexed content"}]
    assert result.unmapped == ["gen_ai.prompt.notes"]
    assert result.conventions == ["openllmetry", "otel_genai", "otel_genai_deprecated"]


def test_old_and_new_names_on_one_span() -> None:
    # Vercel: gen_ai.system with gen_ai.usage.input_tokens; Pydantic AI: both provider names.
    vercel = run({"gen_ai.system": "openai.chat", "gen_ai.usage.input_tokens": 5})
    assert (vercel.provider, vercel.input_tokens) == ("openai", 5)
    assert vercel.conventions == ["otel_genai", "otel_genai_deprecated"]
    pydantic = run({"gen_ai.system": "openai", "gen_ai.provider.name": "openai"})
    assert pydantic.provider == "openai"


def test_tool_results_are_classified_by_part_type_or_call_id_not_role() -> None:
    response = {"type": "tool_call_response", "id": "c1", "result": "done"}
    for role in ("user", "tool"):
        messages = [{"role": role, "parts": [response]}]
        result = run({"gen_ai.input.messages": json.dumps(messages)})
        assert result.input_messages == [
            {"role": "tool", "content": "done", "tool_call_id": "c1"}
        ], role
    openai_style = [{"role": "user", "tool_call_id": "c2", "content": "done"}]
    assert run({"gen_ai.prompt": json.dumps(openai_style)}).input_messages == [
        {"role": "tool", "content": "done", "tool_call_id": "c2"}
    ]
    legacy_function = [{"role": "function", "name": "add", "content": "4"}]
    assert run({"gen_ai.prompt": json.dumps(legacy_function)}).input_messages == [
        {"role": "function", "content": "4", "name": "add"}
    ]


def test_tool_span_input_value_is_arguments_but_llm_input_value_is_the_request() -> None:
    tool = normalize(make_span({"openinference.span.kind": "TOOL", "input.value": '{"a": 1}'}))
    llm = normalize(make_span({"openinference.span.kind": "LLM", "input.value": '{"a": 1}'}))
    assert (tool.kind, tool.tool_arguments, tool.input_text) == (
        SpanKind.TOOL,
        '{"a": 1}',
        '{"a": 1}',
    )
    assert (llm.kind, llm.tool_arguments, llm.input_text) == (SpanKind.LLM, None, '{"a": 1}')
