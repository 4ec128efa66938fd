"""The side panel of the trace page: one span, everything it says, clipped.

Built from the span's API document (``web.serialize.span_json``: its columns, its
messages filled from its log records, its log records), so the panel shows exactly what
``GET /api/traces/{id}`` returns, and every clipped value's "show all" URL is its path
in that document (``web.trace_view.value_at``). Messages, events and log records are
client data of any shape: anything that is not the expected shape is shown as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from web.templating import query_string
from web.trace_view import Clipper, Text, TraceUrls, label, value_at

ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "model"})
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: Text | None


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    call_id: str | None
    arguments: Text | None


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    role_class: str  # a known role, or "other": never a client string in a class
    name: str | None
    content: Text | None
    reasoning: Text | None
    tool_calls: list[ToolCall]
    tool_call_id: str | None


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    offset_ms: float | None  # from the span's start
    attributes: list[KeyValue]
    exception: bool


@dataclass(frozen=True, slots=True)
class Log:
    time_ns: int
    offset_ms: float  # from the span's start (the trace's, for trace-level records)
    severity: str
    event_name: str | None
    body: Text | None
    attributes: list[KeyValue]


@dataclass(frozen=True, slots=True)
class Link:
    trace_id: str
    span_id: str
    href: str | None  # only for well-formed ids
    attributes: list[KeyValue]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None
    # Which cost is used, the other beside it, and how the computed one was reached
    # (web/serialize.py's cost_breakdown), for the panel's cost section.
    cost_source: str | None = None
    reported_cost_usd: float | None = None
    computed_cost_usd: float | None = None
    breakdown: dict[str, Any] | None = None
    reported_details: dict[str, float] | None = None

    @property
    def known(self) -> bool:
        return self.cost_source is not None or any(
            value is not None for value in (*self.tokens, self.cost_usd)
        )

    @property
    def tokens(self) -> tuple[int | None, ...]:
        return (
            self.input_tokens,
            self.output_tokens,
            self.reasoning_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.total_tokens,
        )


@dataclass(frozen=True, slots=True)
class SpanPanel:
    """Everything the side panel shows of one span."""

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    offset_ms: float
    duration_ms: float
    error_type: str | None
    error_message: Text | None
    status_message: Text | None
    facts: list[tuple[str, str]]
    usage: Usage
    system_instructions: Text | None  # shown when no system message says the same
    reasoning: Text | None
    input_messages: list[Message]
    output_messages: list[Message]
    input_text: Text | None  # shown when there are no messages
    output_text: Text | None
    tool_arguments: Text | None
    tool_result: Text | None
    events: list[Event]
    logs: list[Log]
    links: list[Link]
    attributes: list[KeyValue]
    resource_attributes: list[KeyValue]
    scope_attributes: list[KeyValue]


def _key_values(clipper: Clipper, *path: str | int) -> list[KeyValue]:
    try:
        mapping = value_at(clipper.document, path)
    except LookupError:
        return []
    if not isinstance(mapping, Mapping):
        return []
    return [KeyValue(label(key), clipper(*path, key)) for key in sorted(mapping)]


def _messages(clipper: Clipper, field_name: str) -> list[Message]:
    messages = clipper.document.get(field_name)
    if not isinstance(messages, list):
        return []
    out = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            out.append(Message("?", "other", None, clipper(field_name, index), None, [], None))
            continue
        role = label(message.get("role") or "?", 40)
        calls = message.get("tool_calls")
        tool_calls = [
            ToolCall(
                label(call.get("name") or "?"),
                _optional_label(call.get("id")),
                clipper(field_name, index, "tool_calls", number, "arguments"),
            )
            for number, call in enumerate(calls if isinstance(calls, list) else [])
            if isinstance(call, Mapping)
        ]
        out.append(
            Message(
                role=role,
                role_class=role if role in ROLES else "other",
                name=_optional_label(message.get("name")),
                content=clipper(field_name, index, "content"),
                reasoning=clipper(field_name, index, "reasoning"),
                tool_calls=tool_calls,
                tool_call_id=_optional_label(message.get("tool_call_id")),
            )
        )
    return out


def _optional_label(value: Any) -> str | None:
    return None if value is None or value == "" else label(value)


def _events(clipper: Clipper, span_start_ns: int) -> list[Event]:
    events = clipper.document.get("events")
    out = []
    for index, event in enumerate(events if isinstance(events, list) else []):
        if not isinstance(event, Mapping):
            continue
        time_ns = event.get("time_unix_nano")
        name = label(event.get("name") or "")
        out.append(
            Event(
                name=name,
                offset_ms=(time_ns - span_start_ns) / 1e6 if isinstance(time_ns, int) else None,
                attributes=_key_values(clipper, "events", index, "attributes"),
                exception=name == "exception",
            )
        )
    return out


def _logs(clipper: Clipper, start_ns: int) -> list[Log]:
    logs = clipper.document.get("logs")
    out = []
    for index, record in enumerate(logs if isinstance(logs, list) else []):
        severity = record.get("severity_text") or (
            str(record["severity_number"]) if record.get("severity_number") else ""
        )
        time_ns = record.get("time_unix_nano") or 0
        out.append(
            Log(
                time_ns=time_ns,
                offset_ms=(time_ns - start_ns) / 1e6,
                severity=label(severity, 40),
                event_name=_optional_label(record.get("event_name")),
                body=clipper("logs", index, "body"),
                attributes=_key_values(clipper, "logs", index, "attributes"),
            )
        )
    return out


def _links(clipper: Clipper) -> list[Link]:
    links = clipper.document.get("links")
    out = []
    for index, link in enumerate(links if isinstance(links, list) else []):
        if not isinstance(link, Mapping):
            continue
        trace_id, span_id = str(link.get("trace_id") or ""), str(link.get("span_id") or "")
        well_formed = len(trace_id) == 32 and len(span_id) == 16 and _HEX.match(trace_id + span_id)
        href = f"/traces/{trace_id}" + query_string({"span": span_id}) if well_formed else None
        out.append(
            Link(
                label(trace_id),
                label(span_id),
                href,
                _key_values(clipper, "links", index, "attributes"),
            )
        )
    return out


def _facts(span: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Who and what, as (label, value); only what the span says."""
    model = span.get("model")
    if span.get("request_model") and span.get("request_model") != model:
        model = f"{span['request_model']} \u2192 {model}" if model else span["request_model"]
    agent = span.get("agent_name")
    if agent and span.get("agent_version"):
        agent = f"{agent} {span['agent_version']}"
    confidence = span.get("confidence")
    if confidence is not None and span.get("confidence_source"):
        confidence = f"{confidence:g} ({span['confidence_source']})"
    finish = span.get("finish_reasons")
    candidates: list[tuple[str, Any]] = [
        ("Model", model),
        ("Provider", span.get("provider")),
        ("Agent", agent),
        ("Agent id", span.get("agent_id")),
        ("Tool", span.get("tool_name")),
        ("Tool call id", span.get("tool_call_id")),
        ("Confidence", confidence),
        ("Finish reasons", ", ".join(map(str, finish)) if isinstance(finish, list) else None),
        ("Prompt", span.get("prompt_name")),
        ("Prompt version", span.get("prompt_version")),
        ("Service", span.get("service_name")),
        ("Scope", " ".join(filter(None, (span.get("scope_name"), span.get("scope_version"))))),
        ("Read as", ", ".join(map(str, span.get("conventions") or ()))),
        ("Span id", span.get("span_id")),
        ("Parent span id", span.get("parent_span_id")),
    ]
    return [(name, label(value)) for name, value in candidates if value not in (None, "")]


def span_panel(span: Mapping[str, Any], trace_start_ns: int, urls: TraceUrls) -> SpanPanel:
    """The panel of one span, from its API document (``web.serialize.span_json``)."""
    span_id = str(span["span_id"])
    clipper = Clipper(span, lambda path: urls.span_value(span_id, path))
    input_messages = _messages(clipper, "input_messages")
    output_messages = _messages(clipper, "output_messages")
    has_system_message = any(message.role == "system" for message in input_messages)
    start_ns = int(span["start_time_unix_nano"])
    return SpanPanel(
        span_id=span_id,
        parent_span_id=span.get("parent_span_id"),
        name=label(span.get("name") or ""),
        kind=str(span.get("kind") or "other"),
        status=str(span.get("status") or "ok"),
        offset_ms=(start_ns - trace_start_ns) / 1e6,
        duration_ms=float(span.get("duration_ms") or 0),
        error_type=_optional_label(span.get("error_type")),
        error_message=clipper("error_message"),
        status_message=clipper("status_message"),
        facts=_facts(span),
        usage=Usage(
            span.get("input_tokens"),
            span.get("output_tokens"),
            span.get("reasoning_tokens"),
            span.get("cache_read_tokens"),
            span.get("cache_write_tokens"),
            span.get("total_tokens"),
            span.get("cost_usd"),
            span.get("cost_source"),
            span.get("reported_cost_usd"),
            span.get("computed_cost_usd"),
            span.get("cost_breakdown"),
            span.get("reported_cost_details"),
        ),
        system_instructions=None if has_system_message else clipper("system_instructions"),
        reasoning=clipper("reasoning_text"),
        input_messages=input_messages,
        output_messages=output_messages,
        # The display text repeats the messages, or a tool's arguments and result.
        input_text=None
        if input_messages or span.get("input_text") == span.get("tool_arguments")
        else clipper("input_text"),
        output_text=None
        if output_messages or span.get("output_text") == span.get("tool_result")
        else clipper("output_text"),
        tool_arguments=clipper("tool_arguments"),
        tool_result=clipper("tool_result"),
        events=_events(clipper, start_ns),
        logs=_logs(clipper, start_ns),
        links=_links(clipper),
        attributes=_key_values(clipper, "attributes"),
        resource_attributes=_key_values(clipper, "resource_attributes"),
        scope_attributes=_key_values(clipper, "scope_attributes"),
    )


# --- The trace panel (nothing selected) --------------------------------------------


@dataclass(frozen=True, slots=True)
class TracePanel:
    """What the panel shows before a span is picked: the trace's input and output, and
    its log records that name no stored span."""

    input: Text | None
    output: Text | None
    logs: list[Log] = field(default_factory=list)


def trace_document(
    trace_input: str | None, trace_output: str | None, logs: list[Any]
) -> dict[str, Any]:
    """The trace-level values the full-value route can address."""
    return {"input": trace_input, "output": trace_output, "logs": logs}


def trace_panel(document: Mapping[str, Any], trace_start_ns: int, urls: TraceUrls) -> TracePanel:
    clipper = Clipper(document, urls.trace_value)
    return TracePanel(clipper("input"), clipper("output"), _logs(clipper, trace_start_ns))
