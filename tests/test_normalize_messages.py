"""Message content from every convention, into the canonical Message shape."""

from __future__ import annotations

import json
from typing import Any

from tests.test_normalize_support import event, run


def parts_message(role: str, *parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"role": role, "parts": list(parts), **extra}


def text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def test_genai_parts_with_reasoning_and_several_choices() -> None:
    output = [
        parts_message(
            "assistant",
            {"type": "reasoning", "content": "The user wants a city."},
            text("Paris."),
            finish_reason="stop",
        ),
        parts_message("assistant", text("Lyon."), finish_reason="length"),
    ]
    result = run({"gen_ai.output.messages": json.dumps(output)})
    assert result.output_messages == [
        {"role": "assistant", "content": "Paris.", "reasoning": "The user wants a city."},
        {"role": "assistant", "content": "Lyon."},
    ]
    assert result.reasoning_text == "The user wants a city."
    assert result.finish_reasons == ["stop", "length"]  # from the messages, last resort
    assert result.output_text == "Lyon."


def test_structured_messages_are_accepted_as_well_as_json_strings() -> None:
    # An AnyValue array/kvlist arrives as Python lists and dicts (SEMCONV 6.3).
    result = run({"gen_ai.input.messages": [parts_message("user", text("hi"))]})
    assert result.input_messages == [{"role": "user", "content": "hi"}]


def test_system_instructions_are_prepended_as_a_system_message() -> None:
    result = run(
        {
            "gen_ai.system_instructions": json.dumps([text("Be brief."), text("Be kind.")]),
            "gen_ai.input.messages": json.dumps([parts_message("user", text("hi"))]),
        }
    )
    assert result.system_instructions == "Be brief.\nBe kind."
    assert result.input_messages == [
        {"role": "system", "content": "Be brief.\nBe kind."},
        {"role": "user", "content": "hi"},
    ]


def test_system_instructions_do_not_duplicate_a_system_message() -> None:
    messages = [parts_message("system", text("S")), parts_message("user", text("hi"))]
    result = run({"gen_ai.system_instructions": "S", "gen_ai.input.messages": json.dumps(messages)})
    assert [m["role"] for m in result.input_messages or ()] == ["system", "user"]


def test_pydantic_tool_results_in_user_messages_are_tool_messages() -> None:
    # Pydantic AI format <= 5: tool results travel in a "user" message (SEMCONV 6.3),
    # with the result under "result" and, here, a retry prompt after them.
    messages = [
        parts_message("user", text("Weather in Paris and Rome?")),
        parts_message(
            "assistant",
            {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}},
            {"type": "tool_call", "id": "c2", "name": "weather", "arguments": '{"city":"Rome"}'},
        ),
        parts_message(
            "user",
            {"type": "tool_call_response", "id": "c1", "name": "weather", "result": "rainy"},
            {"type": "tool_call_response", "id": "c2", "name": "weather", "result": {"t": 21}},
            text("Now summarise."),
        ),
    ]
    result = run({"gen_ai.input.messages": json.dumps(messages)})
    assert result.input_messages == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "name": "weather", "arguments": '{"city":"Paris"}'},
                {"id": "c2", "name": "weather", "arguments": '{"city":"Rome"}'},
            ],
        },
        {"role": "tool", "content": "rainy", "tool_call_id": "c1", "name": "weather"},
        {"role": "tool", "content": '{"t":21}', "tool_call_id": "c2", "name": "weather"},
        {"role": "user", "content": "Now summarise."},
    ]
    assert result.input_text == "Now summarise."


def test_tool_result_under_response_or_result() -> None:
    for key in ("response", "result"):
        message = parts_message("tool", {"type": "tool_call_response", "id": "c9", key: "ok"})
        result = run({"gen_ai.input.messages": json.dumps([message])})
        assert result.input_messages == [{"role": "tool", "content": "ok", "tool_call_id": "c9"}]


def test_multimodal_parts_become_short_placeholders() -> None:
    message = parts_message(
        "user",
        text("What is this?"),
        {"type": "uri", "modality": "image", "uri": "https://x.test/cat.png"},
        {"type": "blob", "modality": "audio", "mime_type": "audio/wav", "content": "AAAA" * 999},
    )
    result = run({"gen_ai.input.messages": json.dumps([message])})
    assert result.input_messages == [
        {
            "role": "user",
            "content": "What is this?\n[image: https://x.test/cat.png]\n[audio: audio/wav]",
        }
    ]


def test_openinference_flattened_messages_with_reasoning_and_images() -> None:
    prefix = "llm.output_messages.0.message"
    result = run(
        {
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.contents.0.message_content.type": "text",
            "llm.input_messages.0.message.contents.0.message_content.text": "Describe",
            "llm.input_messages.0.message.contents.1.message_content.type": "image",
            "llm.input_messages.0.message.contents.1.message_content.image.image.url": "u.png",
            f"{prefix}.role": "assistant",
            f"{prefix}.contents.0.message_content.type": "reasoning",
            f"{prefix}.contents.0.message_content.text": "Looks like a cat.",
            f"{prefix}.contents.1.message_content.type": "text",
            f"{prefix}.contents.1.message_content.text": "A cat.",
        }
    )
    assert result.input_messages == [{"role": "user", "content": "Describe\n[image: u.png]"}]
    assert result.output_messages == [
        {"role": "assistant", "content": "A cat.", "reasoning": "Looks like a cat."}
    ]
    assert result.reasoning_text == "Looks like a cat."
    assert result.conventions == ["openinference"]
    assert result.unmapped == []


def test_openllmetry_indexed_prompts_sort_numerically() -> None:
    attributes: dict[str, Any] = {}
    for index in range(12):
        attributes[f"gen_ai.prompt.{index}.role"] = "user"
        attributes[f"gen_ai.prompt.{index}.content"] = f"m{index}"
    shuffled = dict(sorted(attributes.items()))  # string order: 0, 1, 10, 11, 2, ...
    result = run(shuffled)
    assert [m["content"] for m in result.input_messages or ()] == [f"m{i}" for i in range(12)]
    assert result.conventions == ["openllmetry"]


def test_openllmetry_content_parts_tool_calls_and_finish_reason() -> None:
    result = run(
        {
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": json.dumps([{"type": "text", "text": "Weather?"}]),
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.tool_calls.0.id": "call_1",
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"city":"Paris"}',
            "gen_ai.prompt.1.role": "tool",
            "gen_ai.prompt.1.tool_call_id": "call_0",
            "gen_ai.prompt.1.content": "sunny",
        }
    )
    assert result.input_messages == [
        {"role": "user", "content": "Weather?"},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_0"},
    ]
    assert result.output_messages == [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
            ],
        }
    ]
    assert result.finish_reasons == ["tool_calls"]
    assert result.output_text == 'get_weather({"city":"Paris"})'


def test_deprecated_prompt_attribute_in_openai_shape() -> None:
    prompt = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "add", "arguments": "[2,2]"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "4"},
    ]
    result = run({"gen_ai.prompt": json.dumps(prompt), "gen_ai.completion": "4."})
    assert result.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "tool_calls": [{"id": "c", "name": "add", "arguments": "[2,2]"}]},
        {"role": "tool", "content": "4", "tool_call_id": "c"},
    ]
    assert result.system_instructions == "Be brief."
    assert result.output_messages == [{"role": "assistant", "content": "4."}]


def test_vercel_provider_messages_and_tool_calls() -> None:
    prompt = [
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool-call", "toolCallId": "t1", "toolName": "w", "input": {"c": "P"}}
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "type": "tool-result",
                    "toolCallId": "t1",
                    "toolName": "w",
                    "output": {"type": "text", "value": "rain"},
                }
            ],
        },
    ]
    result = run(
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.prompt.messages": json.dumps(prompt),
            "ai.response.toolCalls": json.dumps(
                [{"toolCallType": "function", "toolCallId": "t2", "toolName": "w", "args": "{}"}]
            ),
        }
    )
    assert result.input_messages == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [{"id": "t1", "name": "w", "arguments": '{"c":"P"}'}]},
        {"role": "tool", "content": "rain", "tool_call_id": "t1", "name": "w"},
    ]
    assert result.output_messages == [
        {"role": "assistant", "tool_calls": [{"id": "t2", "name": "w", "arguments": "{}"}]}
    ]


def test_vercel_outer_prompt_with_system() -> None:
    result = run({"ai.prompt": '{"system": "Be brief.", "prompt": "Hi"}'})
    assert result.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert result.input_text == '{"system": "Be brief.", "prompt": "Hi"}'


def test_legacy_message_events() -> None:
    events = [
        event("gen_ai.system.message", content="Be brief.", **{"gen_ai.system": "openai"}),
        event("gen_ai.user.message", content="Weather?"),
        event(
            "gen_ai.assistant.message",
            tool_calls=json.dumps(
                [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]
            ),
        ),
        event("gen_ai.tool.message", content="rainy", id="c1"),
        event("gen_ai.choice", index=1, finish_reason="length", message='{"content": "B"}'),
        event("gen_ai.choice", index=0, finish_reason="stop", message='{"content": "A"}'),
    ]
    result = run({}, events=events)
    assert result.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "name": "w", "arguments": "{}"}]},
        {"role": "tool", "content": "rainy", "tool_call_id": "c1"},
    ]
    assert result.output_messages == [
        {"role": "assistant", "content": "A"},
        {"role": "assistant", "content": "B"},
    ]
    assert result.finish_reasons == ["stop", "length"]
    assert result.conventions == ["otel_genai_deprecated"]


def test_openlit_tools_message_event() -> None:
    result = run({}, events=[event("gen_ai.tools.message", content="42", id="t")])
    assert result.input_messages == [{"role": "tool", "content": "42", "tool_call_id": "t"}]
    assert result.conventions == ["openlit"]


def test_v1_27_content_events() -> None:
    events = [
        event("gen_ai.content.prompt", **{"gen_ai.prompt": '[{"role": "user", "content": "Q"}]'}),
        event("gen_ai.content.completion", **{"gen_ai.completion": '[{"content": "A"}]'}),
    ]
    result = run({}, events=events)
    assert result.input_messages == [{"role": "user", "content": "Q"}]
    assert result.output_messages == [{"role": "assistant", "content": "A"}]


def test_attributes_win_over_events() -> None:
    result = run(
        {"gen_ai.input.messages": json.dumps([parts_message("user", text("attr"))])},
        events=[event("gen_ai.user.message", content="event")],
    )
    assert result.input_messages == [{"role": "user", "content": "attr"}]


def test_pydantic_all_messages_on_the_agent_span() -> None:
    messages = [parts_message("user", text("Plan a trip")), parts_message("assistant", text("OK"))]
    result = run(
        {
            "gen_ai.operation.name": "invoke_agent",
            "pydantic_ai.all_messages": json.dumps(messages),
            "final_result": "Trip planned",
        },
        name="invoke_agent planner",
    )
    assert result.input_messages == [
        {"role": "user", "content": "Plan a trip"},
        {"role": "assistant", "content": "OK"},
    ]
    assert result.output_text == "Trip planned"
    assert result.agent_name == "planner"


def test_openinference_completion_api_prompts_and_choices() -> None:
    result = run({"llm.prompts.0.prompt.text": "Say hi", "llm.choices.0.completion.text": "hi"})
    assert result.input_messages == [{"role": "user", "content": "Say hi"}]
    assert result.output_messages == [{"role": "assistant", "content": "hi"}]
    assert (result.input_text, result.output_text) == ("Say hi", "hi")


def test_input_text_is_the_last_user_turn_when_no_raw_input_was_sent() -> None:
    messages = [
        parts_message("user", text("first")),
        parts_message("assistant", text("answer")),
        parts_message("user", text("second")),
        parts_message("assistant", text("trailing")),
    ]
    assert run({"gen_ai.input.messages": json.dumps(messages)}).input_text == "second"


def test_raw_display_text_wins_over_messages() -> None:
    result = run(
        {
            "input.value": "raw request",
            "gen_ai.input.messages": json.dumps([parts_message("user", text("hi"))]),
        }
    )
    assert result.input_text == "raw request"
