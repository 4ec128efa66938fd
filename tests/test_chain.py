"""The reasoning chain as a pure function: steps, their order, nesting and context sizes."""

from __future__ import annotations

from typing import Any

from store.trace_read import Clipped, SpanContent, SpanLine
from web.chain import CALL_ARGUMENT_CHARS, StepKind, build_chain, tool_calls
from web.trace_view import preorder

MS = 1_000_000


def span(
    span_id: str,
    parent: str | None,
    kind: str,
    start: int,
    *,
    name: str | None = None,
    status: str = "ok",
    texts: dict[str, str] | None = None,
    **fields: Any,
) -> SpanContent:
    line_fields = {
        key: fields.pop(key, None)
        for key in ("model", "tool_name", "agent_name", "input_tokens", "error_type")
    }
    line = SpanLine(
        span_id, parent, name or span_id, kind, status, start * MS, (start + 1) * MS,
        line_fields["model"], line_fields["tool_name"], line_fields["agent_name"],
        line_fields["input_tokens"], None, None, line_fields["error_type"],
    )  # fmt: skip
    clipped = {key: Clipped(value, len(value)) for key, value in (texts or {}).items()}
    values: dict[str, Any] = {
        "agent_version": None, "cache_read_tokens": None, "reasoning_tokens": None,
        "confidence": None, "input_text": None, "output_text": None, "reasoning_text": None,
        "tool_arguments": None, "tool_result": None, "error_message": None,
        "output_messages": None, "input_message_count": None,
    }  # fmt: skip
    return SpanContent(line=line, **(values | clipped | fields))


def calls(*names: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant",
            "content": "Let me look that up.",
            "tool_calls": [{"id": f"c{n}", "name": n, "arguments": '{"q": 1}'} for n in names],
        }
    ]


def kinds(spans: list[SpanContent]) -> list[tuple[str, str, int]]:
    chain = build_chain(preorder(spans))
    return [(step.kind.value, step.span_id, step.level) for step in chain.steps]


def test_thought_decision_tool_call_result_next_thought() -> None:
    spans = [
        span("agent", None, "agent", 0, agent_name="support", agent_version="1.5",
             texts={"input_text": "Where is my order?", "output_text": "It ships today."}),
        span("llm1", "agent", "llm", 1, model="gpt-4.1", input_tokens=900,
             output_messages=calls("lookup_order"), texts={"reasoning_text": "Need the order."}),
        span("tool", "agent", "tool", 2, tool_name="lookup_order",
             texts={"tool_arguments": '{"id": 7}', "tool_result": '{"status": "shipped"}'}),
        span("llm2", "agent", "llm", 3, model="gpt-4.1", input_tokens=1300,
             texts={"output_text": "It ships today."}),
    ]  # fmt: skip
    assert kinds(spans) == [
        ("task", "agent", 0),
        ("thought", "llm1", 1),
        ("decision", "llm1", 1),
        ("tool_call", "tool", 1),
        ("result", "tool", 1),
        ("decision", "llm2", 1),
        ("answer", "agent", 0),
    ]
    chain = build_chain(preorder(spans))
    task, thought, decision, call, result, answer, done = chain.steps
    assert task.title == "support 1.5" and task.text == Clipped("Where is my order?", 18)
    assert thought.text is not None and thought.text.text == "Need the order."
    assert decision.calls == ('lookup_order({"q": 1})',) and decision.context_tokens == 900
    assert decision.text is None  # a decision to call tools shows the calls, not text
    assert (call.text, result.text) == (
        Clipped('{"id": 7}', 9),
        Clipped('{"status": "shipped"}', 21),
    )
    assert answer.text is not None and answer.text.text == "It ships today."
    assert answer.path == ("output_text",) and call.path == ("tool_arguments",)
    assert done.kind is StepKind.ANSWER
    assert (chain.decisions, chain.max_context_tokens, chain.contexts) == (2, 1300, [900, 1300])


def test_text_beside_tool_calls_is_the_thought_when_there_is_no_reasoning() -> None:
    spans = [span("llm", None, "llm", 0, output_messages=calls("search"))]
    thought = build_chain(preorder(spans)).steps[0]
    assert thought.kind is StepKind.THOUGHT
    assert thought.text is not None and thought.text.text == "Let me look that up."
    assert thought.path == ("output_messages", 0, "content")


def test_context_is_the_message_count_when_tokens_are_unknown() -> None:
    spans = [span("llm", None, "llm", 0, input_message_count=4)]
    [decision] = build_chain(preorder(spans)).steps
    assert (decision.context_tokens, decision.context_messages) == (None, 4)


def test_a_sub_agent_inside_a_tool_nests_and_the_result_comes_after_it() -> None:
    spans = [
        span("root", None, "agent", 0),
        span("tool", "root", "tool", 1, tool_name="summarize"),
        span("sub", "tool", "agent", 2, agent_name="summarizer"),
        span("sub_llm", "sub", "llm", 3),
        span("last", "root", "llm", 4),
    ]
    assert kinds(spans) == [
        ("task", "root", 0),
        ("tool_call", "tool", 1),
        ("task", "sub", 1),
        ("decision", "sub_llm", 2),
        ("answer", "sub", 1),
        ("result", "tool", 1),
        ("decision", "last", 1),
        ("answer", "root", 0),
    ]


def test_failures_are_steps_and_quiet_spans_are_left_out() -> None:
    spans = [
        span("chain", None, "chain", 0),
        span("embed", "chain", "embedding", 1),
        span("broken", "chain", "other", 2, status="error", error_type="KeyError",
             texts={"error_message": "'id'"}),
        span("llm", "chain", "llm", 3, status="error", error_type="RateLimitError"),
    ]  # fmt: skip
    chain = build_chain(preorder(spans))
    assert [(step.kind.value, step.span_id) for step in chain.steps] == [
        ("failure", "broken"),
        ("decision", "llm"),
    ]
    assert chain.steps[0].error == "KeyError: 'id'"
    assert chain.steps[1].error == "RateLimitError"


def test_tool_call_arguments_are_cut_short_in_a_decision() -> None:
    messages = [{"role": "assistant", "tool_calls": [{"name": "f", "arguments": "x" * 1000}]}]
    [call] = tool_calls(messages)
    assert call.startswith("f(x") and len(call) == len("f()") + CALL_ARGUMENT_CHARS + 1
    assert tool_calls(["junk", {"tool_calls": "junk"}, {"tool_calls": [None]}]) == []


def test_a_5000_span_chain_is_built_without_recursion() -> None:
    spans = [span("0", None, "agent", 0)] + [
        span(str(i), str(i - 1), "agent" if i % 2 else "tool", i) for i in range(1, 5000)
    ]
    chain = build_chain(preorder(spans))
    assert len(chain.steps) == 10_000
    assert chain.steps[-1].span_id == "0"
