"""Odd and hostile values: the normalizer skips or renders them and never raises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.normalize import Canonical, normalize
from collector.normalize.conventions import VOCABULARY
from collector.normalize.index import KEY_INDEX
from store.vocabulary import SpanKind, Status
from tests.test_normalize_support import event, make_span, run


def nested_list(depth: int) -> list[Any]:
    """A list nested ``depth`` deep, built without recursion."""
    value: list[Any] = ["leaf"]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.request.model": 42}, "42"),
        ({"gen_ai.request.model": 4.5}, "4.5"),
        ({"gen_ai.response.model": ["gpt"], "gen_ai.request.model": "next"}, "next"),
        ({"gen_ai.response.model": True, "gen_ai.request.model": "next"}, "next"),
        ({"gen_ai.response.model": "", "gen_ai.request.model": "next"}, "next"),
        ({"gen_ai.response.model": {}, "gen_ai.request.model": "next"}, "next"),
        pytest.param({"gen_ai.request.model": 10**5000}, None, id="int-too-long-for-str"),
        ({"gen_ai.request.model": float("nan")}, None),
    ],
)
def test_model_of_the_wrong_type(attributes: dict[str, Any], expected: str | None) -> None:
    assert run(attributes).model == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("97", 97),
        (" 97 ", 97),
        ("97.0", 97),
        (97.0, 97),
        (97.5, None),
        ("abc", None),
        (-5, None),
        (2**70, None),
        pytest.param(10**5000, None, id="int-too-long-for-str"),
        ("9" * 5000, None),
        (float("inf"), None),
        (True, None),
        ([97], None),
    ],
)
def test_token_counts_of_the_wrong_type(value: Any, expected: int | None) -> None:
    assert run({"gen_ai.usage.input_tokens": value}).input_tokens == expected


def test_an_unusable_value_falls_through_to_the_next_candidate() -> None:
    result = run({"gen_ai.usage.input_tokens": "n/a", "llm.token_count.prompt": 12})
    assert result.input_tokens == 12


def test_invalid_json_messages_are_kept_as_text() -> None:
    result = run({"gen_ai.input.messages": '[{"role": "user", "parts": [', "input": 3})
    assert result.input_messages == [{"role": "user", "content": '[{"role": "user", "parts": ['}]
    assert result.input_text == "3"


@pytest.mark.parametrize("value", [42, 4.2, True, {}, [], "", [None, 7, [1]], {"x": 1}])
def test_messages_of_the_wrong_type(value: Any) -> None:
    result = run({"gen_ai.input.messages": value, "gen_ai.output.messages": value})
    assert result.input_messages is None
    assert result.output_messages is None


def test_parts_of_the_wrong_type() -> None:
    messages = [
        {"role": 5, "parts": {"type": "text"}},
        {"role": "user", "parts": [None, 3, {"type": ["text"]}, {"type": "text", "content": 7}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "arguments": {"a": [1, 2]}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": 9, "response": None}]},
        "a bare string",
        None,
    ]
    result = run({"gen_ai.input.messages": messages})
    assert result.input_messages == [
        {"role": "user"},
        {"role": "user", "content": "[part]\n7"},
        {"role": "assistant", "tool_calls": [{"id": None, "name": "", "arguments": '{"a":[1,2]}'}]},
        {"role": "tool", "tool_call_id": "9"},
        {"role": "user", "content": "a bare string"},
    ]


def test_deeply_nested_values_do_not_raise() -> None:
    deep = nested_list(5000)
    result = run(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.call.arguments": deep,
            "gen_ai.tool.call.result": {"a": deep},
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": deep}]}
            ],
            "llm.invocation_parameters": deep,
            "metadata": {"session_id": deep},
        }
    )
    assert result.kind is SpanKind.TOOL
    assert isinstance(result.tool_arguments, str)
    assert result.tool_arguments.startswith("[[")
    assert isinstance(result.tool_result, str)
    assert result.session_id is None


def test_a_long_chain_of_wrapped_tool_outputs_does_not_recurse() -> None:
    output: Any = "done"
    for _ in range(5000):
        output = {"type": "json", "value": output}
    part = {"type": "tool-result", "toolCallId": "t", "output": output}
    result = run({"ai.prompt.messages": [{"role": "tool", "content": [part]}]})
    assert result.input_messages == [{"role": "tool", "content": "done", "tool_call_id": "t"}]


def test_deeply_nested_json_text_stays_raw() -> None:
    text = "[" * 3000 + "]" * 3000  # beyond the JSON decoder's depth limit
    result = run({"gen_ai.input.messages": text})
    assert result.input_messages == [{"role": "user", "content": text}]


def test_huge_values() -> None:
    big = "x" * 5_000_000
    result = run(
        {"gen_ai.input.messages": json.dumps([{"role": "user", "content": big}]), "input": big}
    )
    assert result.input_messages is not None
    assert len(result.input_messages[0]["content"]) == 5_000_000
    assert result.input_text is big


def test_strings_that_are_not_valid_unicode() -> None:
    lone = "\ud800"
    result = run(
        {
            "gen_ai.input.messages": f'[{{"role": "user", "content": "{lone}"}}]',
            "gen_ai.tool.call.arguments": {"k": lone},
            "gen_ai.operation.name": "execute_tool",
        }
    )
    assert result.input_messages == [
        {"role": "user", "content": f'[{{"role": "user", "content": "{lone}"}}]'}
    ]
    assert result.tool_arguments is not None


def test_flattened_keys_with_odd_indexes_and_shapes() -> None:
    result = run(
        {
            "llm.input_messages.99999999999.message.role": "user",  # too long to be an index
            "llm.input_messages.0.message": "a leaf where a map was expected",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.1.message.role": "assistant",
            "llm.input_messages.1.message.content": "ok",
            "llm.input_messages.2." + "a." * 5000 + "b": "very deep",
            "llm.input_messages.٣.message.role": "user",  # a non-ASCII digit
        }
    )
    assert result.input_messages == [{"role": "assistant", "content": "ok"}]
    assert result.unmapped == [
        "llm.input_messages.99999999999.message.role",
        "llm.input_messages.٣.message.role",
    ]


def test_odd_events_are_skipped() -> None:
    events: list[Any] = [
        None,
        "exception",
        {"name": 3},
        {"name": "exception", "attributes": ["not", "a", "map"]},
        event("gen_ai.user.message", content={"nested": True}),
        event("gen_ai.choice", index="x", message="not json"),
    ]
    result = run({}, events=events)
    assert result.status is Status.ERROR  # an exception event, even without attributes
    assert result.error_type is None
    assert result.input_messages == [{"role": "user", "content": '{"nested":true}'}]
    assert result.output_messages == [{"role": "assistant"}]


def test_non_string_attribute_keys() -> None:
    span = make_span({"gen_ai.request.model": "m"})
    span.attributes[7] = "seven"  # type: ignore[index]
    span.attributes[10**5000] = "huge"  # type: ignore[index]
    result = normalize(span)
    assert result.model == "m"
    assert result.unmapped == ["7", "<int key>"]


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "role",
                    "parts",
                    "type",
                    "content",
                    "id",
                    "name",
                    "arguments",
                    "result",
                    "text",
                    "message",
                    "tool_calls",
                    "function",
                    "finish_reason",
                    "model",
                    "input",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)
MESSAGE_TEXT = st.builds(
    json.dumps,
    st.lists(
        st.dictionaries(
            st.sampled_from(["role", "parts", "content", "tool_calls"]),
            JSON_LEAVES | st.lists(JSON_LEAVES),
        ),
        max_size=3,
    ),
)
KEYS = st.sampled_from(
    [
        *sorted(KEY_INDEX),
        "llm.input_messages.0.message.role",
        "llm.input_messages.1.message.contents.0.message_content.text",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
        "gen_ai.prompt.0.content",
        "gen_ai.completion.3.finish_reason",
        "evaluations.0.evaluation.score",
        "x.confidence",
        "unknown.key",
    ]
)


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    attributes=st.dictionaries(KEYS, VALUES | MESSAGE_TEXT, max_size=12),
    resource=st.dictionaries(KEYS, VALUES, max_size=3),
    name=st.sampled_from(["", "invoke_agent a", "execute_tool t", "chat m", "agent run"]),
    status_code=st.integers(min_value=0, max_value=3),
    event_names=st.lists(
        st.sampled_from(
            ["exception", "gen_ai.choice", "gen_ai.user.message", "gen_ai.evaluation.result", "x"]
        ),
        max_size=3,
    ),
    event_attributes=st.dictionaries(
        KEYS | st.sampled_from(["content", "message", "index"]), VALUES, max_size=3
    ),
)
def test_any_attribute_values_normalize_without_raising(
    attributes: dict[str, Any],
    resource: dict[str, Any],
    name: str,
    status_code: int,
    event_names: list[str],
    event_attributes: dict[str, Any],
) -> None:
    events = [event(event_name, **event_attributes) for event_name in event_names]
    result = normalize(
        make_span(attributes, name=name, resource=resource, events=events, status_code=status_code)
    )
    check_shape(result, attributes)


def check_shape(result: Canonical, attributes: dict[str, Any]) -> None:
    """Every field holds the type canonical.py promises."""
    assert isinstance(result.kind, SpanKind)
    assert isinstance(result.status, Status)
    for field in (
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "reasoning_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    ):
        value = getattr(result, field)
        assert value is None or (type(value) is int and value >= 0), field
    for field in (
        "model",
        "request_model",
        "provider",
        "input_text",
        "output_text",
        "system_instructions",
        "reasoning_text",
        "tool_name",
        "tool_call_id",
        "tool_arguments",
        "tool_result",
        "agent_name",
        "agent_id",
        "agent_version",
        "session_id",
        "user_id",
        "trace_name",
        "environment",
        "prompt_name",
        "prompt_version",
        "confidence_source",
        "error_type",
        "error_message",
    ):
        value = getattr(result, field)
        assert value is None or (type(value) is str and value), field
    for field in ("cost_usd", "confidence"):
        value = getattr(result, field)
        assert value is None or type(value) is float, field
    for messages in (result.input_messages, result.output_messages):
        for message in messages or ():
            assert type(message["role"]) is str
            assert set(message) <= {
                "role",
                "content",
                "reasoning",
                "tool_calls",
                "tool_call_id",
                "name",
            }
            for call in message.get("tool_calls", ()):
                assert type(call["name"]) is str and type(call["arguments"]) is str
    assert result.finish_reasons is None or all(type(r) is str for r in result.finish_reasons)
    assert result.conventions == sorted(result.conventions)
    assert set(result.conventions) <= VOCABULARY
    assert result.unmapped == sorted(result.unmapped)
    assert set(result.unmapped) <= set(attributes)
