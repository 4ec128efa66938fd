"""The canonical span fields: what every convention is mapped onto.

One flat record per span. ``None`` means "the client did not say", never zero: a span
without token counts is not a span that used no tokens. The store has one column per
field (``store/models/span.py``; what a span cost, in ``store/models/span_cost.py``),
so adding a field here means adding a column there and an Alembic revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store.vocabulary import SpanKind, Status

# A chat message in one shape whatever the source convention:
# {"role": str, "content": str | None, "reasoning": str (optional),
#  "tool_calls": [{"id": str | None, "name": str, "arguments": str}] (optional),
#  "tool_call_id": str (optional), "name": str (optional)}.
# Keys without a value are left out.
Message = dict[str, Any]


@dataclass(slots=True)
class Canonical:
    kind: SpanKind = SpanKind.OTHER
    # Model served (response model first), the model asked for, and who served it.
    model: str | None = None
    request_model: str | None = None
    provider: str | None = None
    # Token counts as totals: input includes cached tokens, output includes reasoning
    # tokens (OTel GenAI semantics); the details are subsets, never added on top.
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    # The agent's own verdict on its task: "success" or "failure" (normalize/outcome.py).
    outcome: str | None = None
    # Cost as reported by the client; pricing from a price table is the cost engine's job.
    cost_usd: float | None = None
    # The parts the client reported it of (input, cache read, output...), by its names.
    cost_details: dict[str, float] | None = None
    # Display text (what a person reads first) and structured messages where available.
    input_text: str | None = None
    output_text: str | None = None
    input_messages: list[Message] | None = None
    output_messages: list[Message] | None = None
    system_instructions: str | None = None
    reasoning_text: str | None = None
    # Tool calls; arguments and result as text (JSON text when they were structured).
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_arguments: str | None = None
    tool_result: str | None = None
    # Who and what: agent identity, conversation, user, workflow, deployment.
    agent_name: str | None = None
    agent_id: str | None = None
    agent_version: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    trace_name: str | None = None
    environment: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    # A decision's confidence where the agent reports one, and the attribute it came from.
    confidence: float | None = None
    confidence_source: str | None = None
    status: Status = Status.OK
    error_type: str | None = None
    error_message: str | None = None
    finish_reasons: list[str] | None = None
    # Which conventions the span was read with, and which span attributes no rule knows.
    conventions: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
