"""A hand-instrumented agent whose OpenAI client is instrumented by openai-v2 (default mode).

The agent's own code writes its ``invoke_agent`` and ``execute_tool`` spans in the
current OTel GenAI conventions (as :class:`GenAI` does), while
``opentelemetry-instrumentation-openai-v2`` writes the model calls as its default mode
does (checked against 2.4b0, ``tests/test_instrumentation_openai.py``): a ``chat``
span in the v1.30 conventions (``gen_ai.system``, model, usage, no cached or reasoning
tokens) that carries no content, and the content as OTLP log events under the
instrumentation's own scope, correlated by trace and span id: one
``gen_ai.{system,user,assistant,tool}.message`` per message sent, then one
``gen_ai.choice`` per choice returned, bodies as its ``message_to_event`` and
``choice_to_event`` build them (SEMCONV 2.5). One simplification: a rate-limited call
fails as the demo's other calls do, with an exception event and the qualified
``error.type``, where openai-v2 sets only ``error.type=RateLimitError``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from reasonlens.demo.writers.flow import (
    Attributes,
    LogEvent,
    Message,
    ModelCall,
    ModelEvents,
    Scope,
)
from reasonlens.demo.writers.genai import GenAI

# What openai-v2 passes to get_tracer/get_logger: its module, no version, the v1.30 schema.
SCOPE = Scope(
    "opentelemetry.instrumentation.openai_v2", "", "https://opentelemetry.io/schemas/1.30.0"
)
EVENT_ATTRIBUTES: Attributes = {"gen_ai.system": "openai"}
# Chat Completions' finish reasons, where the GenAI output message says "tool_call".
FINISH_REASONS = {"tool_call": "tool_calls", "stop": "stop"}


class OpenAIV2(GenAI):
    client_scope: ClassVar[Scope | None] = SCOPE

    def model(self, call: ModelCall) -> tuple[str, Attributes]:
        model = call.agent.model
        attributes: Attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": model.request,
            "server.address": model.server,  # the port only when it is not 443
        }
        # Reasoning models take no temperature, and openai-v2 does not record their
        # token cap (``max_completion_tokens``).
        if not model.reasoning:
            attributes["gen_ai.request.temperature"] = 0.2
            attributes["gen_ai.request.max_tokens"] = 4096
        if call.output is None or call.spent is None:
            return f"chat {model.request}", attributes
        attributes |= {
            "gen_ai.response.model": model.response,
            "gen_ai.response.finish_reasons": (_finish_reason(call.output),),
            "gen_ai.openai.response.service_tier": "default",
            "gen_ai.usage.input_tokens": call.spent.input,
            "gen_ai.usage.output_tokens": call.spent.output,
        }
        if call.response_id:
            attributes["gen_ai.response.id"] = call.response_id
        return f"chat {model.request}", attributes

    def model_events(self, call: ModelCall) -> ModelEvents:
        system = _event("gen_ai.system.message", {"content": call.agent.instructions})
        sent = [system, *(_message_event(message) for message in call.inputs)]
        if call.output is None:  # rate-limited: the prompt went out, no choice came back
            return sent, []
        message: dict[str, Any] = {"role": "assistant"}
        tool_calls = _tool_calls(call.output)
        if tool_calls:
            message["tool_calls"] = tool_calls
        text = _text(call.output)
        if text:
            message["content"] = text
        choice = {"index": 0, "finish_reason": _finish_reason(call.output), "message": message}
        return sent, [_event("gen_ai.choice", choice)]


def _event(name: str, body: dict[str, Any] | None) -> LogEvent:
    return LogEvent(name, body, EVENT_ATTRIBUTES)


def _message_event(message: Message) -> LogEvent:
    """One Chat Completions message as ``message_to_event`` reports it.

    An assistant message with tool calls reports only them (its text is dropped), and a
    tool message its result and the call's id; no body carries a role.
    """
    role = message["role"]
    body: dict[str, Any] = {}
    text = _text(message)
    if text:
        body["content"] = text
    if role == "assistant":
        tool_calls = _tool_calls(message)
        if tool_calls:
            body = {"tool_calls": tool_calls}
    elif role == "tool":
        [response] = [part for part in message["parts"] if part["type"] == "tool_call_response"]
        result = response["response"]
        body = {"content": result if isinstance(result, str) else json.dumps(result)}
        body["id"] = response["id"]
    return _event(f"gen_ai.{role}.message", body or None)


def _text(message: Message) -> str:
    return "\n".join(part["content"] for part in message["parts"] if part["type"] == "text")


def _tool_calls(message: Message) -> list[dict[str, Any]]:
    return [
        {
            "id": part["id"],
            "type": "function",
            "function": {"name": part["name"], "arguments": json.dumps(part["arguments"])},
        }
        for part in message["parts"]
        if part["type"] == "tool_call"
    ]


def _finish_reason(output: Message) -> str:
    return FINISH_REASONS[output["finish_reason"]]
