"""A multi-agent workflow written span by span: every id role, time and token is known.

A planner agent plans a product-update email, delegates the facts to a researcher
(an LLM call, a docs search, a summary) and the email to a writer, which drafts it,
asks a human to approve sending it (``request_approval``: the request in its
arguments, the decision in its result and events) and only then calls the
side-effecting ``send_email``. The planner closes with its own answer.

Nothing is random: later tests (the trace page, tree rendering, the approval-policy
and cost evals) assert against :class:`Workflow` and :data:`TREE`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Tracer

START_NS = 1_772_442_000_000_000_000  # 2026-03-02T09:00:00Z
MS = 1_000_000
SESSION_ID = "conv_launch_update_0302"
USER_ID = "usr_pm_amara"
RESOURCE = {
    "service.name": "content-pipeline",
    "service.version": "0.4.0",
    "deployment.environment.name": "staging",
}
TASK = (
    "Send this week's product update to the beta customers list: announce bulk ordering "
    "(CSV upload, up to 500 lines) and link the help article."
)

# role -> children roles, in start order: the tree GET /api/traces/{id} must return.
TREE: dict[str, tuple[str, ...]] = {
    "planner": ("plan", "researcher", "writer", "answer"),
    "researcher": ("research_call", "search_docs", "research_summary"),
    "writer": ("draft", "approval", "after_approval", "send_email"),
}
KINDS = {
    "planner": "agent", "researcher": "agent", "writer": "agent",
    "plan": "llm", "research_call": "llm", "research_summary": "llm", "draft": "llm",
    "after_approval": "llm", "answer": "llm",
    "search_docs": "tool", "approval": "tool", "send_email": "tool",
}  # fmt: skip
AGENTS = {"planner": "1.2.0", "researcher": "0.8.1", "writer": "1.0.0"}

GPT_41 = ("openai", "gpt-4.1", "gpt-4.1-2025-04-14")
GPT_41_MINI = ("openai", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14")
SONNET = ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929")


@dataclass(frozen=True)
class ModelCall:
    model: tuple[str, str, str]  # provider, requested model, model that answered
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0


MODEL_CALLS = {
    "plan": ModelCall(GPT_41, 1210, 184),
    "research_call": ModelCall(SONNET, 936, 58),
    "research_summary": ModelCall(SONNET, 1544, 212, 896),
    "draft": ModelCall(GPT_41_MINI, 1102, 296),
    "after_approval": ModelCall(GPT_41_MINI, 1498, 41, 1024),
    "answer": ModelCall(GPT_41, 1652, 96, 1152),
}

SEARCH_ARGS = {"query": "bulk ordering release notes", "limit": 3}
SEARCH_RESULT = {
    "documents": [
        {"id": "HC-2210", "title": "Bulk ordering (beta)", "url": "https://help.northwind.example/bulk-ordering"},
        {"id": "REL-2026.09", "title": "Release 2026.09", "url": "https://northwind.example/changelog/2026-09"},
    ]
}  # fmt: skip
FACTS = (
    "Bulk ordering is live for beta accounts: upload a CSV of up to 500 lines from "
    "Orders > Bulk order. Help article: https://help.northwind.example/bulk-ordering"
)
EMAIL = {
    "to": "beta-customers@lists.northwind.example",
    "subject": "New this week: bulk ordering",
    "body": "Hi there,\n\nYou can now place bulk orders: upload a CSV of up to 500 lines "
    "from Orders > Bulk order. Details: https://help.northwind.example/bulk-ordering\n\n"
    "The Northwind team",
}
APPROVAL_ARGS = {
    "actions": ["send_email"],
    "summary": "Send 'New this week: bulk ordering' to beta-customers (214 recipients)",
}
APPROVAL_RESULT = {"approval_id": "APR-730115", "decision": "approved", "approver": "a.mensah"}
SEND_RESULT = {"message_id": "<7f3a91c2@mail.northwind.example>", "recipients": 214}
PLAN = (
    "1. researcher: collect the facts about bulk ordering. "
    "2. writer: draft the email and send it once approved."
)
ANSWER = "Done: the bulk-ordering update went to the 214 beta customers after approval."
TOOLS = {
    "search_docs": ("search_docs", "call_s1", SEARCH_ARGS, SEARCH_RESULT),
    "approval": ("request_approval", "call_a1", APPROVAL_ARGS, APPROVAL_RESULT),
    "send_email": ("send_email", "call_e1", EMAIL, SEND_RESULT),
}
APPROVAL_WAIT_MS = 94_000  # the human took a minute and a half to decide


@dataclass
class Workflow:
    """What one emitted workflow is: its trace id and the span id of every role."""

    trace_id: str
    span_ids: dict[str, str] = field(default_factory=dict)

    @property
    def input_tokens(self) -> int:
        return sum(call.input_tokens for call in MODEL_CALLS.values())

    @property
    def output_tokens(self) -> int:
        return sum(call.output_tokens for call in MODEL_CALLS.values())

    @property
    def cache_read_tokens(self) -> int:
        return sum(call.cache_read_tokens for call in MODEL_CALLS.values())


def tracer_provider(exporter: SpanExporter) -> TracerProvider:
    """A provider with the workflow's resource, exporting each span as it ends."""
    provider = TracerProvider(resource=Resource(RESOURCE), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def emit(provider: trace.TracerProvider, start_ns: int = START_NS) -> Workflow:
    """Write the workflow through ``provider``; returns its trace and span ids."""
    return _Writer(provider.get_tracer("content-pipeline", "0.4.0"), start_ns).run()


def _text(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def _tool_call(role: str) -> dict[str, Any]:
    name, call_id, arguments, _ = TOOLS[role]
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def _tool_response(role: str) -> dict[str, Any]:
    _, call_id, _, result = TOOLS[role]
    return {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": call_id, "response": result}],
    }


class _Writer:
    def __init__(self, tracer: Tracer, start_ns: int) -> None:
        self.tracer = tracer
        self.t = start_ns
        self.ids: dict[str, str] = {}

    def run(self) -> Workflow:
        planner = self._agent("planner", None, TASK)
        trace_id = format(planner.get_span_context().trace_id, "032x")
        ctx = trace.set_span_in_context(planner)
        self._model("plan", ctx, [_text("user", TASK)], [{"type": "text", "content": PLAN}], 2100)

        researcher = self._agent("researcher", ctx, "Collect the facts about bulk ordering.")
        rctx = trace.set_span_in_context(researcher)
        asked = [_text("user", "Collect the facts about bulk ordering.")]
        self._model("research_call", rctx, asked, [_tool_call("search_docs")], 1300)
        self._tool("search_docs", rctx, 420)
        history = [
            *asked,
            {"role": "assistant", "parts": [_tool_call("search_docs")]},
            _tool_response("search_docs"),
        ]
        self._model("research_summary", rctx, history, [{"type": "text", "content": FACTS}], 3900)
        self._end(researcher, FACTS)

        writer = self._agent("writer", ctx, f"Draft and send the update email. Facts: {FACTS}")
        wctx = trace.set_span_in_context(writer)
        asked = [_text("user", f"Draft and send the update email. Facts: {FACTS}")]
        draft = [
            {"type": "text", "content": "Draft ready; asking for approval to send."},
            _tool_call("approval"),
        ]
        self._model("draft", wctx, asked, draft, 5200)
        self._tool("approval", wctx, APPROVAL_WAIT_MS, decision=True)
        history = [*asked, {"role": "assistant", "parts": draft}, _tool_response("approval")]
        self._model("after_approval", wctx, history, [_tool_call("send_email")], 900)
        self._tool("send_email", wctx, 640)
        self._end(writer, "Sent to 214 recipients.")

        history = [_text("user", TASK), _text("assistant", PLAN)]
        self._model("answer", ctx, history, [{"type": "text", "content": ANSWER}], 1700)
        self._end(planner, ANSWER)
        return Workflow(trace_id, dict(self.ids))

    def _start(
        self,
        role: str,
        name: str,
        parent: Context | None,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> Span:
        span = self.tracer.start_span(name, parent, kind, attributes, start_time=self.t)
        self.ids[role] = format(span.get_span_context().span_id, "016x")
        return span

    def _agent(self, role: str, parent: Context | None, request: str) -> Span:
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": role,
            "gen_ai.agent.version": AGENTS[role],
            "gen_ai.conversation.id": SESSION_ID,
            "user.id": USER_ID,
            "gen_ai.input.messages": json.dumps([_text("user", request)]),
        }
        span = self._start(role, f"invoke_agent {role}", parent, SpanKind.INTERNAL, attributes)
        self.t += 5 * MS
        return span

    def _end(self, span: Span, answer: str) -> None:
        span.set_attribute(
            "gen_ai.output.messages",
            json.dumps([{**_text("assistant", answer), "finish_reason": "stop"}]),
        )
        self.t += 3 * MS
        span.end(end_time=self.t)

    def _model(
        self, role: str, parent: Context, inputs: list[Any], parts: list[Any], ms: int
    ) -> None:
        call = MODEL_CALLS[role]
        provider, request, response = call.model
        finish = "tool_call" if any(part["type"] == "tool_call" for part in parts) else "stop"
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": request,
            "gen_ai.response.model": response,
            "gen_ai.usage.input_tokens": call.input_tokens,
            "gen_ai.usage.output_tokens": call.output_tokens,
            "gen_ai.response.finish_reasons": (finish,),
            "gen_ai.input.messages": json.dumps(inputs),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": parts, "finish_reason": finish}]
            ),
        }
        if call.cache_read_tokens:
            attributes["gen_ai.usage.cache_read.input_tokens"] = call.cache_read_tokens
        span = self._start(role, f"chat {request}", parent, SpanKind.CLIENT, attributes)
        self.t += ms * MS
        span.end(end_time=self.t)
        self.t += 2 * MS

    def _tool(self, role: str, parent: Context, ms: int, decision: bool = False) -> None:
        name, call_id, arguments, result = TOOLS[role]
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.call.arguments": json.dumps(arguments),
            "gen_ai.tool.call.result": json.dumps(result),
        }
        span = self._start(role, f"execute_tool {name}", parent, SpanKind.INTERNAL, attributes)
        if decision:
            # The human step, as events: when approval was asked for and when it was given.
            span.add_event("approval.requested", {"approval.id": result["approval_id"]}, self.t)
        self.t += ms * MS
        if decision:
            span.add_event(
                "approval.decided",
                {"approval.id": result["approval_id"], "approval.decision": result["decision"],
                 "approval.approver": result["approver"]},
                self.t,
            )  # fmt: skip
        span.end(end_time=self.t)
        self.t += 2 * MS
