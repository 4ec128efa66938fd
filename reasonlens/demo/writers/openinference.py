"""OpenInference (Arize Phoenix) conventions, as its LangChain instrumentation writes them.

Messages are flattened into indexed keys (``llm.input_messages.<i>.message.*``), tool
arguments and results are ``input.value``/``output.value`` on TOOL spans, and session
and user ids ride on every span. There is no agent-version attribute: the version is
the resource's ``service.version``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

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

JSON = "application/json"
TEXT = "text/plain"
# OpenInference names the hosting provider and the model family separately.
PROVIDERS = {"gcp.vertex_ai": ("google", "vertexai"), "openai": ("openai", "openai")}


class OpenInference:
    client_scope: ClassVar[Scope | None] = None  # model calls: the run's scope, content on spans

    def agent(self, run: Run, turn: Turn, request: Message) -> tuple[str, Attributes]:
        return run.agent.name, {
            "openinference.span.kind": "AGENT",
            "agent.name": run.agent.name,
            "input.value": run.request,
            "input.mime_type": TEXT,
            **_context(run.agent, turn),
        }

    def agent_end(self, run: Run, spent: Usage, answer: Message | None) -> Attributes:
        if run.answer is None:
            return {}
        return {"output.value": run.answer, "output.mime_type": TEXT}

    def model(self, call: ModelCall) -> tuple[str, Attributes]:
        model = call.agent.model
        provider, system = PROVIDERS[model.provider]
        attributes: Attributes = {
            "openinference.span.kind": "LLM",
            "llm.model_name": model.response,
            "llm.provider": provider,
            "llm.system": system,
            "llm.invocation_parameters": json.dumps(
                {"model": model.request, "temperature": 0.2, "max_output_tokens": 2048}
            ),
            **_context(call.agent, call.turn),
        }
        system_message = {
            "role": "system",
            "parts": [{"type": "text", "content": call.agent.instructions}],
        }
        _flatten(attributes, "llm.input_messages", [system_message, *call.inputs])
        for index, tool in enumerate(call.agent.tools):
            attributes[f"llm.tools.{index}.tool.json_schema"] = json.dumps(tool.definition())
        if call.output is not None and call.spent is not None:
            _flatten(attributes, "llm.output_messages", [call.output])
            attributes |= {
                "llm.token_count.prompt": call.spent.input,
                "llm.token_count.completion": call.spent.output,
                "llm.token_count.total": call.spent.input + call.spent.output,
            }
            if call.spent.cache_read:
                attributes["llm.token_count.prompt_details.cache_read"] = call.spent.cache_read
        return "ChatVertexAI", attributes

    def model_events(self, call: ModelCall) -> ModelEvents:
        return (), ()  # content rides on the span

    def tool(
        self, agent: Agent, turn: Turn, call: ToolCall, call_id: str
    ) -> tuple[str, Attributes]:
        spec = next(tool for tool in agent.tools if tool.name == call.name)
        attributes: Attributes = {
            "openinference.span.kind": "TOOL",
            "tool.name": call.name,
            "tool.id": call_id,
            "tool.description": spec.description,
            "tool.parameters": json.dumps(spec.definition()["parameters"]),
            "input.value": json.dumps(call.arguments),
            "input.mime_type": JSON,
            **_context(agent, turn),
        }
        if call.error is None:
            attributes |= {"output.value": json.dumps(call.result), "output.mime_type": JSON}
        return call.name, attributes

    def error_attributes(self, failure: Failure) -> Attributes:
        return {}  # OpenInference records errors as the status and the exception event only


def _context(agent: Agent, turn: Turn) -> Attributes:
    """What ``using_session``/``using_user``/``using_metadata`` put on every span."""
    return {
        "session.id": turn.session_id,
        "user.id": turn.user_id,
        "metadata": json.dumps({"thread_id": turn.session_id, "assistant": agent.name}),
        "tag.tags": (agent.name, turn.environment),
    }


def _flatten(attributes: Attributes, prefix: str, messages: list[Message]) -> None:
    """OTel GenAI parts -> OpenInference's ``<prefix>.<i>.message.*`` keys."""
    for index, message in enumerate(messages):
        key = f"{prefix}.{index}.message"
        attributes[f"{key}.role"] = message["role"]
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for part in message["parts"]:
            kind = part["type"]
            if kind == "text":
                texts.append(part["content"])
            elif kind == "tool_call":
                calls.append(part)
            elif kind == "tool_call_response":
                attributes[f"{key}.tool_call_id"] = part["id"]
                texts.append(json.dumps(part["response"]))
        if texts:
            attributes[f"{key}.content"] = "\n".join(texts)
        for position, tool_call in enumerate(calls):
            call_key = f"{key}.tool_calls.{position}.tool_call"
            attributes[f"{call_key}.id"] = tool_call["id"]
            attributes[f"{call_key}.function.name"] = tool_call["name"]
            attributes[f"{call_key}.function.arguments"] = json.dumps(tool_call["arguments"])
