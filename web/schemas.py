"""The API's objects as OpenAPI sees them.

Responses are encoded by ``web/serialize.py`` (orjson, no per-field validation on the
hot path); these models document them, and ``tests/test_api_schema.py`` checks that
the two name the same fields, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TraceOut(BaseModel):
    trace_id: str = Field(description="32 lowercase hex characters.")
    project: str
    service: str | None = Field(description="service.name of the root span.")
    name: str | None = Field(description="Workflow name, else the root (or earliest) span's.")
    agent_name: str | None = Field(description="The outermost agent span's agent.")
    agent_version: str | None
    session_id: str | None = Field(description="Conversation/session id from any span.")
    user_id: str | None
    environment: str | None
    root_span_id: str | None = Field(description="Null until the parentless span arrives.")
    start_time: str = Field(description="ISO 8601 UTC, microseconds.")
    end_time: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    duration_ms: float
    status: str = Field(description="ok or error: the root span's status once it arrived.")
    outcome: str | None = Field(
        description="success or failure, as the agent said (reasonlens.outcome on any span; "
        "one failure fails it); null when it said nothing and the status decides."
    )
    error_count: int
    span_count: int
    llm_call_count: int
    tool_call_count: int
    input_tokens: int = Field(description="Sum over LLM and embedding spans; incl. cached.")
    output_tokens: int = Field(description="Sum over LLM and embedding spans; incl. reasoning.")
    reasoning_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None = Field(
        description="Sum of the model calls' costs (reported, else computed from the price "
        "book); null when none has a cost: unknown is not $0."
    )
    unpriced_count: int = Field(
        description="Model calls with usage that no price covers: left out of cost_usd."
    )
    escalated: bool = Field(
        description="A tool call handed the trace to a person (escalate/handoff/human)."
    )
    input: str | None = Field(description="The root span's input text.")
    output: str | None = Field(description="The root span's output text.")


class TraceList(BaseModel):
    traces: list[TraceOut] = Field(description="Traces in the requested order.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class LogRecordOut(BaseModel):
    trace_id: str | None
    span_id: str | None
    time: str
    time_unix_nano: int
    observed_time_unix_nano: int
    severity_number: int
    severity_text: str | None
    event_name: str | None = Field(description="e.g. gen_ai.user.message, gen_ai.choice.")
    body: Any
    attributes: dict[str, Any]
    resource_attributes: dict[str, Any]
    scope_name: str | None
    scope_version: str | None
    input_messages: list[dict[str, Any]] | None = Field(
        description="Messages this record carries, normalized like a span's."
    )
    output_messages: list[dict[str, Any]] | None
    system_instructions: str | None
    finish_reasons: list[str] | None
    scope_attributes: dict[str, Any]


class CostLineOut(BaseModel):
    kind: str = Field(description="input (uncached), cache_read, cache_write, output, reasoning")
    tokens: int
    usd_per_mtok: float = Field(description="The unit price, USD per million tokens.")
    usd: float


class PriceOut(BaseModel):
    key: str = Field(description="The price's digest: the same key is the same price.")
    source: str = Field(description="genai-prices (the registry) or custom.")
    version: str = Field(description="The registry's version, or the custom price's id.")
    provider: str | None
    model: str = Field(description="The model (or pattern) the price is for.")


class CostBreakdownOut(BaseModel):
    price: PriceOut
    lines: list[CostLineOut] = Field(description="One line per token type charged.")
    usd: float = Field(description="The computed cost: the sum of the lines.")
    notes: list[str] = Field(description="Where the counts did not add up, and what was done.")


class SpanOut(BaseModel):
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str = Field(
        description="agent, llm, tool, retrieval, embedding, reasoning, guardrail, "
        "evaluator, chain or other."
    )
    otel_kind: int = Field(description="OTLP SpanKind number.")
    service_name: str | None
    scope_name: str | None
    scope_version: str | None
    start_time: str
    end_time: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    duration_ms: float
    status: str
    status_code: int
    status_message: str | None
    error_type: str | None
    error_message: str | None
    trace_state: str | None
    flags: int
    model: str | None = Field(description="The model that served the call.")
    request_model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    reasoning_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cost_usd: float | None = Field(description="The cost used: reported, else computed.")
    reported_cost_usd: float | None = Field(description="The cost the client sent, as sent.")
    computed_cost_usd: float | None = Field(description="The cost at the price book's price.")
    cost_source: str | None = Field(
        description="reported, computed, unpriced (usage but no price), or null (no usage)."
    )
    price_key: str | None
    reported_cost_details: dict[str, float] | None = Field(
        description="The parts the client reported its cost of, by its own names "
        "(OpenInference llm.cost.prompt_details.*, Langfuse cost_details)."
    )
    cost_breakdown: CostBreakdownOut | None = Field(
        description="How the computed cost was reached; null when no price applied."
    )
    input_text: str | None
    output_text: str | None
    input_messages: list[dict[str, Any]] | None = Field(
        description='[{"role", "content", "tool_calls", "tool_call_id", ...}]'
    )
    output_messages: list[dict[str, Any]] | None
    system_instructions: str | None
    reasoning_text: str | None
    tool_name: str | None
    tool_call_id: str | None
    tool_arguments: str | None
    tool_result: str | None
    agent_name: str | None
    agent_id: str | None
    agent_version: str | None
    session_id: str | None
    user_id: str | None
    trace_name: str | None
    environment: str | None
    prompt_name: str | None
    prompt_version: str | None
    confidence: float | None
    confidence_source: str | None = Field(description="The attribute the confidence came from.")
    finish_reasons: list[str] | None
    conventions: list[str] = Field(description="Conventions the span was read with.")
    unmapped: list[str] = Field(description="Span attributes no rule interpreted (kept raw).")
    attributes: dict[str, Any]
    resource_attributes: dict[str, Any]
    scope_attributes: dict[str, Any]
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int
    logs: list[LogRecordOut] = Field(
        description="The span's OTLP log records (GenAI content events), in time order; "
        "they fill the span's messages when its own attributes carry none."
    )
    children: list[SpanOut] = Field(description="Child spans, in start order.")


class RunawayOut(BaseModel):
    """A trace flagged as a runaway while it arrived (collector/runaway.py)."""

    trace_id: str
    baseline: str = Field(
        description="agent: judged against its agent's recent traces; service: against its "
        "service's, as no span that had arrived named the agent yet."
    )
    name: str = Field(description="That agent's or service's name.")
    flagged_at: str = Field(description="ISO 8601 UTC: when the trace went past a limit.")
    steps: int = Field(description="Model and tool calls the trace had made when flagged.")
    tokens: int = Field(description="Input and output tokens it had used when flagged.")
    steps_limit: float = Field(description="The agent's step limit then.")
    tokens_limit: float = Field(description="The agent's token limit then.")
    baseline_traces: int = Field(description="The agent's recent traces the limits came from.")
    trace_start_time: str = Field(description="ISO 8601 UTC.")
    trace_steps: int = Field(description="Model and tool calls the trace has made by now.")
    trace_tokens: int = Field(description="Tokens it has used by now.")
    trace_cost_usd: float | None = Field(description="Its cost by now; null: unknown.")


class TraceDetailOut(TraceOut):
    logs: list[LogRecordOut] = Field(
        description="Log records of the trace that name no stored span of it."
    )
    spans: list[SpanOut] = Field(description="Root spans, each with nested children.")
    scores: list[TraceScoreOut] = Field(
        description="The trace's scores from every source, by evaluator, newest first "
        "(the newest 500)."
    )
    runaway: RunawayOut | None = Field(
        description="Set when the trace was flagged as a runaway while it arrived."
    )


class TraceScoreOut(BaseModel):
    """A score of a trace (or one of its spans): from a suite run, a person or the agent."""

    evaluator: str
    metric: str
    value: float | None
    label: str | None
    passed: bool | None = Field(description="The verdict; null where the metric is a measure.")
    explanation: str | None
    source: str = Field(description="eval (a suite run), human (feedback) or agent.")
    span_id: str | None = Field(description="The span scored, when not the whole trace.")
    run_id: int | None = Field(description="The eval run that wrote it (source eval).")
    suite: str | None = Field(description="That run's suite.")
    run_url: str | None = Field(description="The run's page.")
    details: dict[str, Any] | None = Field(
        description="What else the evaluator recorded (a dataset item's key, expected and "
        "actual output; a judge's tokens)."
    )
    created_at: str = Field(description="ISO 8601 UTC.")


TraceDetailOut.model_rebuild()  # its ``scores`` name the model above
