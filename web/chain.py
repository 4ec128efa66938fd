"""The reasoning chain: a trace read top to bottom as the agent's steps.

A waterfall answers "what ran when"; the chain answers "why did it do that": each model
call becomes the thought it had (reasoning, or the text it wrote beside its tool calls)
and the decision it took (the tools it called, or its answer), with the size of the
context it decided on; each tool call becomes its arguments and, after anything that
ran inside it (a sub-agent), its result. Agents open with their task and close with
their answer, and nest. Spans that carry nothing to read (plain chain or embedding
spans) are left out unless they failed.

Pure: it takes spans in tree order (``web.trace_view.preorder``) and returns steps; the
page renders them, each linked to its span.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from store.trace_read import Clipped, SpanContent

CHAIN_CHARS = 600  # per text in the chain; the span's panel and "show all" have the rest
CALL_ARGUMENT_CHARS = 160

Path = tuple[str | int, ...]


class StepKind(StrEnum):
    TASK = "task"  # an agent takes on a task
    THOUGHT = "thought"
    DECISION = "decision"
    TOOL_CALL = "tool_call"
    RESULT = "result"
    ANSWER = "answer"  # an agent's answer
    CHECK = "check"  # a guardrail or evaluator verdict
    FAILURE = "failure"  # a span with nothing else to say than that it failed


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    span_id: str
    level: int  # how many agents enclose the step
    title: str
    text: Clipped | None = None
    path: Path = ()  # where ``text`` is in the span's API document
    calls: tuple[str, ...] = ()  # the tool calls a decision makes, as name(arguments)
    context_tokens: int | None = None
    context_messages: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    confidence: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    steps: list[Step]
    decisions: int
    # The largest context any decision saw: scales the context bars.
    max_context_tokens: int
    contexts: list[int] = field(default_factory=list)


def clip(text: str | None, chars: int = CHAIN_CHARS) -> Clipped | None:
    if not text:
        return None
    return Clipped(text[:chars], len(text))


def _first(content: SpanContent, *fields: str) -> tuple[Clipped | None, Path]:
    """The first of the span's texts that it has, and its path."""
    for name in fields:
        value = getattr(content, name)
        if value is not None and value.text:
            return value, (name,)
    return None, ()


def tool_calls(messages: Sequence[Any] | None) -> list[str]:
    """The tool calls in assistant messages, as ``name(arguments)``, arguments cut short."""
    calls = []
    for message in messages or ():
        if not isinstance(message, Mapping) or not isinstance(message.get("tool_calls"), list):
            continue
        for call in message["tool_calls"]:
            if isinstance(call, Mapping):
                arguments = str(call.get("arguments") or "")
                if len(arguments) > CALL_ARGUMENT_CHARS:
                    arguments = arguments[:CALL_ARGUMENT_CHARS] + "\u2026"
                calls.append(f"{call.get('name') or '?'}({arguments})")
    return calls


def _thought(content: SpanContent, calls: list[str]) -> tuple[Clipped | None, Path]:
    """Reasoning text; else reasoning in the output messages; else, when the model
    called tools, the text it wrote beside them (its stated plan)."""
    if content.reasoning_text:
        return content.reasoning_text, ("reasoning_text",)
    messages = content.output_messages or []
    for key in ("reasoning", "content") if calls else ("reasoning",):
        for index, message in enumerate(messages):
            if isinstance(message, Mapping) and isinstance(message.get(key), str):
                text = clip(message[key])
                if text is not None:
                    return text, ("output_messages", index, key)
    return None, ()


def _error(content: SpanContent) -> str | None:
    if content.line.status != "error":
        return None
    parts = [content.line.error_type, content.error_message and content.error_message.text]
    return ": ".join(part for part in parts if part) or "failed"


def _model_call(content: SpanContent, level: int) -> list[Step]:
    line = content.line
    calls = tool_calls(content.output_messages)
    thought, thought_path = _thought(content, calls)
    title = line.model or line.name
    steps = []
    if thought is not None:
        steps.append(Step(StepKind.THOUGHT, line.span_id, level, title, thought, thought_path))
    answer = None if calls else content.output_text
    steps.append(
        Step(
            StepKind.DECISION,
            line.span_id,
            level,
            title,
            answer,
            ("output_text",) if answer else (),
            calls=tuple(calls),
            context_tokens=line.input_tokens,
            context_messages=content.input_message_count,
            cached_tokens=content.cache_read_tokens or None,
            reasoning_tokens=content.reasoning_tokens or None,
            confidence=content.confidence,
            error=_error(content),
        )
    )
    return steps


def _opening(content: SpanContent, level: int) -> tuple[list[Step], list[Step], bool]:
    """A span's steps before its children, after them, and whether it is an agent."""
    line = content.line
    span_id, kind, error = line.span_id, line.kind, _error(content)
    match kind:
        case "agent":
            title = line.agent_name or line.name
            if line.agent_name and content.agent_version:
                title = f"{title} {content.agent_version}"
            task = Step(StepKind.TASK, span_id, level, title, content.input_text, ("input_text",))
            answer = Step(
                StepKind.ANSWER,
                span_id,
                level,
                title,
                content.output_text,
                ("output_text",),
                confidence=content.confidence,
                error=error,
            )
            return [task], [answer], True
        case "llm":
            return _model_call(content, level), [], False
        case "tool" | "retrieval":
            title = line.tool_name or line.name
            arguments, argument_path = _first(content, "tool_arguments", "input_text")
            result, result_path = _first(content, "tool_result", "output_text")
            call = Step(StepKind.TOOL_CALL, span_id, level, title, arguments, argument_path)
            outcome = Step(StepKind.RESULT, span_id, level, title, result, result_path, error=error)
            return [call], [outcome], False
        case "reasoning":
            text, path = _first(content, "reasoning_text", "output_text")
            return (
                [Step(StepKind.THOUGHT, span_id, level, line.name, text, path, error=error)],
                [],
                False,
            )
        case "guardrail" | "evaluator":
            check = Step(
                StepKind.CHECK,
                span_id,
                level,
                line.name,
                content.output_text,
                ("output_text",),
                confidence=content.confidence,
                error=error,
            )
            return [check], [], False
        case _ if error is not None:
            failure = Step(
                StepKind.FAILURE,
                span_id,
                level,
                line.name,
                content.error_message,
                ("error_message",),
                error=error,
            )
            return [failure], [], False
        case _:
            return [], [], False


def build_chain(ordered: Iterable[tuple[SpanContent, int]]) -> Chain:
    """The steps of a trace given as (span, depth) in tree order."""
    steps: list[Step] = []
    # Spans whose subtree is still being read: (depth, steps after it, level inside it).
    pending: list[tuple[int, list[Step], int]] = []
    for content, depth in ordered:
        while pending and pending[-1][0] >= depth:
            steps.extend(pending.pop()[1])
        level = pending[-1][2] if pending else 0
        before, after, is_agent = _opening(content, level)
        steps.extend(before)
        pending.append((depth, after, level + 1 if is_agent else level))
    while pending:
        steps.extend(pending.pop()[1])
    contexts = [
        step.context_tokens
        for step in steps
        if step.kind is StepKind.DECISION and step.context_tokens is not None
    ]
    decisions = sum(step.kind is StepKind.DECISION for step in steps)
    return Chain(steps, decisions, max(contexts, default=0), contexts)
