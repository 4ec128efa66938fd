"""Write a script as spans: timing, token counts and the growing message history.

The flow is the same in every convention (an agent span; per step its rate-limited
attempts, the model call, then each tool call; sub-agents nested under the tool that
called them); a :class:`Convention` only names the spans and spells the attributes,
and may send a model call's content as log events beside its span. Every start and
end time (and log timestamp) is explicit, so a day of traffic is written in seconds
and the same seed writes the same records.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from opentelemetry import trace
from opentelemetry._logs import Logger
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from reasonlens.demo.errors import exception, rate_limit
from reasonlens.demo.models import Usage, latency_ms, tokens, usage
from reasonlens.demo.script import Agent, Failure, Run, Step, ToolCall

Attributes = dict[str, AttributeValue]
Message = dict[str, Any]  # OTel GenAI shape: {"role", "parts": [...], "finish_reason"?}
MS = 1_000_000
US = 1_000


@dataclass(frozen=True, slots=True)
class Turn:
    """Where a run sits in its conversation."""

    session_id: str
    user_id: str
    environment: str
    transcript: tuple[tuple[str, str], ...]  # earlier (request, answer) turns
    warm: bool  # an earlier turn was moments ago, so the provider's prompt cache is warm


@dataclass(frozen=True, slots=True)
class ModelCall:
    agent: Agent
    turn: Turn
    inputs: list[Message]
    inputs_json: str
    output: Message | None  # None when the call was rate-limited
    spent: Usage | None
    response_id: str | None


@dataclass(frozen=True, slots=True)
class Scope:
    """An instrumentation scope: the library a span or log record says wrote it."""

    name: str
    version: str | None = None
    schema_url: str | None = None


class Telemetry(Protocol):
    """One agent process's SDK setup: its tracers and loggers, by instrumentation scope."""

    def tracer(self, scope: Scope) -> Tracer: ...

    def logger(self, scope: Scope) -> Logger | None:
        """None when log records go nowhere: then log events are not even built."""


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A log event a model call sends: ``event_name``, body and attributes."""

    name: str
    body: dict[str, Any] | None
    attributes: Attributes


# A model call's log events: those sent with the prompt, those sent with the response.
ModelEvents = tuple[Sequence[LogEvent], Sequence[LogEvent]]


class Convention(Protocol):
    # The scope model calls are written under when a library instruments the LLM client
    # (its spans and log events); None when the agent's own code writes them.
    client_scope: ClassVar[Scope | None]

    def agent(self, run: Run, turn: Turn, request: Message) -> tuple[str, Attributes]: ...

    def agent_end(self, run: Run, spent: Usage, answer: Message | None) -> Attributes: ...

    def model(self, call: ModelCall) -> tuple[str, Attributes]: ...

    def model_events(self, call: ModelCall) -> ModelEvents: ...

    def tool(
        self, agent: Agent, turn: Turn, call: ToolCall, call_id: str
    ) -> tuple[str, Attributes]: ...

    def error_attributes(self, failure: Failure) -> Attributes: ...


def text_message(role: str, text: str) -> Message:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


class Writer:
    """Writes runs; owns the random stream for timings and ids, counts spans and log records.

    Log events draw nothing from the random stream, so the spans are the same whether
    or not the log records go anywhere.
    """

    def __init__(self, rng: random.Random, conventions: dict[str, Convention]) -> None:
        self.rng = rng
        self.conventions = conventions
        self.spans = 0
        self.logs = 0

    def write(self, telemetry: Telemetry, run: Run, turn: Turn, start_ns: int) -> tuple[str, int]:
        """Write ``run`` starting at ``start_ns``; returns its trace id and end time."""
        end, root = _RunWriter(self, telemetry, run, turn).write(start_ns, None)
        return format(root.get_span_context().trace_id, "032x"), end

    def span(
        self,
        tracer: Tracer,
        named: tuple[str, Attributes],
        kind: SpanKind,
        start: int,
        context: Context | None,
    ) -> Span:
        return tracer.start_span(named[0], context, kind, named[1], start_time=start)

    def end(self, span: Span, end: int) -> None:
        span.end(end_time=end)
        self.spans += 1

    def ms(self, milliseconds: float) -> int:
        return int(milliseconds * MS)

    def call_id(self, agent: Agent) -> str:
        """Tool-call ids as each provider spells them."""
        provider = agent.model.provider
        if provider == "anthropic":
            return "toolu_01" + self._token(22)
        if provider == "openai":
            return "call_" + self._token(24)
        return f"{self.rng.getrandbits(128):032x}"

    def response_id(self, agent: Agent) -> str | None:
        provider = agent.model.provider
        if provider == "anthropic":
            return "msg_01" + self._token(22)
        if provider == "openai":
            return "chatcmpl-" + self._token(29)
        return None

    def _token(self, length: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choices(alphabet, k=length))


class _RunWriter:
    """One run being written: its agent span, convention and message history."""

    def __init__(self, writer: Writer, telemetry: Telemetry, run: Run, turn: Turn) -> None:
        self.w = writer
        self.telemetry = telemetry
        self.run = run
        self.turn = turn
        self.convention = writer.conventions[run.agent.convention]
        self.tracer = telemetry.tracer(Scope(run.agent.scope, run.agent.scope_version))
        client = self.convention.client_scope
        self.client_tracer = self.tracer if client is None else telemetry.tracer(client)
        self.logger = None if client is None else telemetry.logger(client)
        self.prefix = _prefix_tokens(run.agent)
        self.history: list[Message] = []
        for question, answer in turn.transcript:
            self.history += [text_message("user", question), text_message("assistant", answer)]

    def write(self, t: int, parent: Context | None) -> tuple[int, Span]:
        w, run = self.w, self.run
        request = text_message("user", run.request)
        self.history.append(request)
        root = w.span(
            self.tracer,
            self.convention.agent(run, self.turn, request),
            SpanKind.INTERNAL,
            t,
            parent,
        )
        context = trace.set_span_in_context(root)
        spent, warm = Usage(0, 0), self.turn.warm
        t += w.ms(8)
        for step in run.steps:
            t = self._rate_limited(step, t, context)
            if step.exhausted:
                break
            used, t, ids = self._model(step, t, context, warm)
            spent, warm = spent + used, True
            for call, call_id in zip(step.calls, ids, strict=True):
                t = self._tool(call, call_id, t, context)
                self.history.append(_tool_message(call, call_id))
        answer = text_message("assistant", run.answer) if run.answer is not None else None
        root.set_attributes(self.convention.agent_end(run, spent, answer))
        if run.error is not None:
            _fail(root, run.error, self.convention, t)
        t += w.ms(2)
        w.end(root, t)
        return t, root

    def _model(
        self, step: Step, t: int, context: Context, warm: bool
    ) -> tuple[Usage, int, list[str]]:
        """The model call that produced ``step``: its usage, its end, the tool-call ids."""
        w, agent = self.w, self.run.agent
        output, ids = self._output(step)
        inputs_json = json.dumps(self.history)
        out_tokens = tokens(step.text or "") + sum(
            tokens(json.dumps(c.arguments)) + 12 for c in step.calls
        )
        prompt = self.prefix + tokens(inputs_json)
        used = usage(
            agent.model, w.rng, prefix=self.prefix, prompt=prompt, output=out_tokens, warm=warm
        )
        call = ModelCall(
            agent, self.turn, self.history, inputs_json, output, used, w.response_id(agent)
        )
        span = w.span(self.client_tracer, self.convention.model(call), SpanKind.CLIENT, t, context)
        end = t + int(latency_ms(agent.model, w.rng, used) * MS)
        self._events(span, call, t, end)
        w.end(span, end)
        # Providers do not take reasoning back in the next prompt.
        parts = [part for part in output["parts"] if part["type"] != "reasoning"]
        self.history = [*self.history, {"role": "assistant", "parts": parts}]
        return used, end + w.ms(3), ids

    def _rate_limited(self, step: Step, t: int, context: Context) -> int:
        """Each 429 answers fast; the client backs off exponentially before retrying."""
        w, agent = self.w, self.run.agent
        for attempt in range(step.rate_limited):
            call = ModelCall(
                agent, self.turn, self.history, json.dumps(self.history), None, None, None
            )
            span = w.span(
                self.client_tracer, self.convention.model(call), SpanKind.CLIENT, t, context
            )
            end = t + w.ms(w.rng.uniform(120, 450))
            self._events(span, call, t, end)
            _fail(span, rate_limit(agent.model.provider, agent.model.request), self.convention, end)
            w.end(span, end)
            t = end + w.ms(1000 * 2**attempt * w.rng.uniform(0.8, 1.2))
        return t

    def _events(self, span: Span, call: ModelCall, start: int, end: int) -> None:
        """The call's log events, a microsecond apart: the prompt's just after the span
        starts (as the request goes out), the choices' just before it ends."""
        if self.logger is None:
            return
        sent, received = self.convention.model_events(call)
        context = trace.set_span_in_context(span)
        times = [start + US * (n + 1) for n in range(len(sent))]
        times += [end - US * (len(received) - n) for n in range(len(received))]
        for event, at in zip([*sent, *received], times, strict=True):
            self.logger.emit(
                timestamp=at,
                observed_timestamp=at,  # the SDK would stamp the wall clock
                context=context,
                event_name=event.name,
                body=event.body,
                attributes=event.attributes,
            )
        self.w.logs += len(times)

    def _tool(self, call: ToolCall, call_id: str, t: int, context: Context) -> int:
        """A tool call; a sub-agent's run nests under it."""
        w = self.w
        named = self.convention.tool(self.run.agent, self.turn, call, call_id)
        span = w.span(self.tracer, named, SpanKind.INTERNAL, t, context)
        if call.delegate is not None:
            sub = _RunWriter(w, self.telemetry, call.delegate, self.turn)
            end, _ = sub.write(t + w.ms(1), trace.set_span_in_context(span))
        else:
            end = t + w.ms(call.latency_ms)
        if call.error is not None:
            _fail(span, call.error, self.convention, end)
        w.end(span, end + w.ms(1))
        return end + w.ms(w.rng.uniform(2, 6))

    def _output(self, step: Step) -> tuple[Message, list[str]]:
        """The assistant message a step's model call returned, with fresh tool-call ids."""
        parts: list[dict[str, Any]] = []
        if step.reasoning:
            parts.append({"type": "reasoning", "content": step.reasoning})
        if step.text:
            parts.append({"type": "text", "content": step.text})
        ids = [self.w.call_id(self.run.agent) for _ in step.calls]
        for call, call_id in zip(step.calls, ids, strict=True):
            parts.append(
                {"type": "tool_call", "id": call_id, "name": call.name, "arguments": call.arguments}
            )
        finish = "tool_call" if step.calls else "stop"
        return {"role": "assistant", "parts": parts, "finish_reason": finish}, ids


def _tool_message(call: ToolCall, call_id: str) -> Message:
    response = (
        call.result if call.error is None else {"error": f"{call.error.type}: {call.error.message}"}
    )
    return {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": call_id, "response": response}],
    }


def _fail(span: Span, failure: Failure, convention: Convention, at: int) -> None:
    """OTel's "recording errors": ERROR status with the message, the exception as an event."""
    span.set_status(Status(StatusCode.ERROR, failure.message))
    span.set_attributes(convention.error_attributes(failure))
    span.record_exception(exception(failure), timestamp=at, escaped=True)


def _prefix_tokens(agent: Agent) -> int:
    """The static head of every prompt: instructions, tool schemas, hidden context."""
    schemas = json.dumps([tool.definition() for tool in agent.tools])
    return tokens(agent.instructions) + tokens(schemas) + agent.context_tokens
