"""The OpenTelemetry GenAI conventions (semantic-conventions v1.37+ message attributes).

Span names and attributes as the spec's agent and inference spans have them: an
``invoke_agent`` span per run, ``chat {model}`` per model call, ``execute_tool {name}``
per tool call; messages and system instructions as JSON strings, which is how the
Python instrumentations send them today.
"""

from __future__ import annotations

import json
from typing import ClassVar

from reasonlens.demo.models import Usage
from reasonlens.demo.script import Agent, Failure, Run, ToolCall
from reasonlens.demo.writers.flow import (
    Attributes,
    Message,
    ModelCall,
    ModelEvents,
    Scope,
    Turn,
)


class GenAI:
    client_scope: ClassVar[Scope | None] = None  # model calls: the run's scope, content on spans

    def agent(self, run: Run, turn: Turn, request: Message) -> tuple[str, Attributes]:
        agent = run.agent
        return f"invoke_agent {agent.name}", {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent.name,
            "gen_ai.agent.id": f"agt_{agent.name}",
            "gen_ai.agent.version": agent.version,
            "gen_ai.agent.description": agent.description,
            "gen_ai.provider.name": agent.model.provider,
            "gen_ai.request.model": agent.model.request,
            "gen_ai.conversation.id": turn.session_id,
            "user.id": turn.user_id,
            "gen_ai.input.messages": json.dumps([request]),
        }

    def agent_end(self, run: Run, spent: Usage, answer: Message | None) -> Attributes:
        # invoke_agent spans MAY repeat their run's usage; the store sums model calls only.
        attributes: Attributes = {
            "gen_ai.usage.input_tokens": spent.input,
            "gen_ai.usage.output_tokens": spent.output,
        }
        if answer is not None:
            attributes["gen_ai.output.messages"] = json.dumps([{**answer, "finish_reason": "stop"}])
        if run.confidence is not None:
            # No convention has one: a custom ``*.confidence`` key, as agents spell it.
            attributes["app.answer.confidence"] = run.confidence
        return attributes

    def model(self, call: ModelCall) -> tuple[str, Attributes]:
        agent, model = call.agent, call.agent.model
        attributes: Attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": model.provider,
            "gen_ai.request.model": model.request,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 4096,
            "gen_ai.agent.name": agent.name,
            "gen_ai.conversation.id": call.turn.session_id,
            "server.address": model.server,
            "server.port": 443,
            "gen_ai.system_instructions": json.dumps(
                [{"type": "text", "content": agent.instructions}]
            ),
            "gen_ai.input.messages": call.inputs_json,
        }
        if agent.tools:
            attributes["gen_ai.tool.definitions"] = json.dumps(
                [tool.definition() for tool in agent.tools]
            )
        if agent.prompt_name:
            attributes["gen_ai.prompt.name"] = agent.prompt_name
        if call.output is None or call.spent is None:
            return f"chat {model.request}", attributes
        spent = call.spent
        attributes |= {
            "gen_ai.response.model": model.response,
            "gen_ai.response.finish_reasons": (call.output["finish_reason"],),
            "gen_ai.output.messages": json.dumps([call.output]),
            "gen_ai.usage.input_tokens": spent.input,
            "gen_ai.usage.output_tokens": spent.output,
        }
        if call.response_id:
            attributes["gen_ai.response.id"] = call.response_id
        if spent.cache_read:
            attributes["gen_ai.usage.cache_read.input_tokens"] = spent.cache_read
        if spent.cache_write:
            attributes["gen_ai.usage.cache_creation.input_tokens"] = spent.cache_write
        if spent.reasoning:
            attributes["gen_ai.usage.reasoning.output_tokens"] = spent.reasoning
        return f"chat {model.request}", attributes

    def model_events(self, call: ModelCall) -> ModelEvents:
        return (), ()  # content rides on the span

    def tool(
        self, agent: Agent, turn: Turn, call: ToolCall, call_id: str
    ) -> tuple[str, Attributes]:
        spec = next((tool for tool in agent.tools if tool.name == call.name), None)
        attributes: Attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.arguments": json.dumps(call.arguments),
        }
        if spec is not None:
            attributes["gen_ai.tool.description"] = spec.description
        if call.error is None:
            attributes["gen_ai.tool.call.result"] = json.dumps(call.result)
        return f"execute_tool {call.name}", attributes

    def error_attributes(self, failure: Failure) -> Attributes:
        return {"error.type": failure.type}
