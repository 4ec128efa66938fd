"""Candidate sources for the identity fields: model, provider, tool, agent, session,
user, trace, environment, prompt and finish reasons.

Each tuple is SEMCONV 6.2's row in priority order; the first usable value wins. Where
this table departs from 6.2 the row says why. Tokens and cost are in :mod:`.usage`,
messages in :mod:`.content`, display text in :mod:`.text`, errors in :mod:`.status`
and confidence in :mod:`.confidence`.
"""

from __future__ import annotations

from typing import Any

from collector.normalize import signals
from collector.normalize.context import Context
from collector.normalize.conventions import (
    GOOGLE_ADK,
    LANGFUSE,
    OPENINFERENCE,
    OPENLIT,
    OPENLLMETRY,
    OTEL_GENAI,
    OTEL_GENAI_DEPRECATED,
    PYDANTIC_AI,
    VERCEL_AI,
)
from collector.normalize.provider import normalize_provider, provider_before_dot
from collector.normalize.sources import Attr, Derived, Field, json_key, span_name_after
from collector.normalize.values import as_str, as_str_list, as_text, parse_json
from store.vocabulary import SpanKind

TOOL = frozenset({SpanKind.TOOL})
AGENT = frozenset({SpanKind.AGENT})

MODEL = Field(
    "model",
    (
        Attr("langfuse.observation.model.name", LANGFUSE, as_str),
        Attr("gen_ai.response.model", OTEL_GENAI, as_str),
        Attr("llm.response.model_name", OPENINFERENCE, as_str),
        Attr("llm.model_name", OPENINFERENCE, as_str),
        Attr("ai.response.model", VERCEL_AI, as_str),
        Attr("gen_ai.request.model", OTEL_GENAI, as_str),
        Attr("llm.request.model_name", OPENINFERENCE, as_str),
        Attr("ai.model.id", VERCEL_AI, as_str),
        Attr("embedding.model_name", OPENINFERENCE, as_str),
        Attr("reranker.model_name", OPENINFERENCE, as_str),
        Derived(
            "llm.invocation_parameters",
            json_key("llm.invocation_parameters", "model", read=as_str),
            ("llm.invocation_parameters",),
            OPENINFERENCE,
        ),
    ),
)

# 6.2 puts llm.model_name (the served model) last; the invocation parameters hold what
# the client actually asked for, so they come first among the OpenInference keys.
REQUEST_MODEL = Field(
    "request_model",
    (
        Attr("gen_ai.request.model", OTEL_GENAI, as_str),
        Attr("llm.request.model_name", OPENINFERENCE, as_str),
        Attr("ai.model.id", VERCEL_AI, as_str),
        Derived(
            "llm.invocation_parameters",
            json_key("llm.invocation_parameters", "model", read=as_str),
            ("llm.invocation_parameters",),
            OPENINFERENCE,
        ),
        Attr("llm.model_name", OPENINFERENCE, as_str),
    ),
)

PROVIDER = Field(
    "provider",
    (
        Attr("gen_ai.provider.name", OTEL_GENAI, normalize_provider),
        Attr("gen_ai.system", OTEL_GENAI_DEPRECATED, normalize_provider),
        Attr("llm.provider", OPENINFERENCE, normalize_provider),
        Attr("llm.system", OPENINFERENCE, normalize_provider),
        Attr("ai.model.provider", VERCEL_AI, provider_before_dot),
        Derived(
            "langfuse.observation.model.parameters",
            json_key("langfuse.observation.model.parameters", "system", read=normalize_provider),
            ("langfuse.observation.model.parameters",),
            LANGFUSE,
        ),
    ),
)


def _unwrap_args(value: Any) -> str | None:
    """Traceloop's ``{"args": [...], "kwargs": {...}}``: keep whichever half was used."""
    decoded = parse_json(value)
    if type(decoded) is not dict or not decoded or not set(decoded) <= {"args", "kwargs"}:
        return as_text(value)
    args, kwargs = decoded.get("args"), decoded.get("kwargs")
    if kwargs and not args:
        return as_text(kwargs)
    if args and not kwargs:
        return as_text(args[0] if type(args) is list and len(args) == 1 else args)
    return as_text(value)


TOOL_NAME = Field(
    "tool_name",
    (
        Attr("gen_ai.tool.name", OTEL_GENAI, as_str),
        Attr("tool.name", OPENINFERENCE, as_str),
        Attr("ai.toolCall.name", VERCEL_AI, as_str),
        Attr("traceloop.entity.name", OPENLLMETRY, as_str, TOOL),
        span_name_after("execute_tool "),
    ),
)

TOOL_CALL_ID = Field(
    "tool_call_id",
    (
        Attr("gen_ai.tool.call.id", OTEL_GENAI, as_str),
        Attr("tool.id", OPENINFERENCE, as_str),
        Attr("tool_call.id", OPENINFERENCE, as_str),
        Attr("ai.toolCall.id", VERCEL_AI, as_str),
    ),
)

# Generic input/output keys are the tool's only on tool spans (6.0.5); 6.2 leaves the
# Traceloop and Langfuse ones unrestricted, which would give every workflow span a
# "tool result". The bare ``input``/``output`` pair is how the OpenInference GenAI
# fixture's execute_tool span carries them.
TOOL_ARGUMENTS = Field(
    "tool_arguments",
    (
        Attr("gen_ai.tool.call.arguments", OTEL_GENAI, as_text),
        Attr("tool_arguments", PYDANTIC_AI, as_text),
        Attr("ai.toolCall.args", VERCEL_AI, as_text),
        Attr("gen_ai.tool.args", OPENLIT, as_text),
        Attr("input.value", OPENINFERENCE, as_text, TOOL),
        Attr("traceloop.entity.input", OPENLLMETRY, _unwrap_args, TOOL),
        Attr("langfuse.observation.input", LANGFUSE, as_text, TOOL),
        Attr("gcp.vertex.agent.tool_call_args", GOOGLE_ADK, as_text),
        Attr("input", None, as_text, TOOL),
    ),
)

TOOL_RESULT = Field(
    "tool_result",
    (
        Attr("gen_ai.tool.call.result", OTEL_GENAI, as_text),
        Attr("tool_response", PYDANTIC_AI, as_text),
        Attr("ai.toolCall.result", VERCEL_AI, as_text),
        Attr("output.value", OPENINFERENCE, as_text, TOOL),
        Attr("traceloop.entity.output", OPENLLMETRY, as_text, TOOL),
        Attr("langfuse.observation.output", LANGFUSE, as_text, TOOL),
        Attr("gcp.vertex.agent.tool_response", GOOGLE_ADK, as_text),
        Attr("output", None, as_text, TOOL),
    ),
)

AGENT_NAME = Field(
    "agent_name",
    (
        Attr("gen_ai.agent.name", OTEL_GENAI, as_str),
        Attr("agent.name", OPENINFERENCE, as_str),
        Attr("traceloop.entity.name", OPENLLMETRY, as_str, AGENT),
        Attr("agent_name", PYDANTIC_AI, as_str),
        span_name_after("invoke_agent ", "create_agent "),
        Attr("graph.node.name", OPENINFERENCE, as_str),
    ),
)

AGENT_ID = Field(
    "agent_id",
    (
        Attr("gen_ai.agent.id", OTEL_GENAI, as_str),
        Attr("graph.node.id", OPENINFERENCE, as_str),
    ),
)

AGENT_VERSION = Field(
    "agent_version",
    (
        Attr("gen_ai.agent.version", OTEL_GENAI, as_str),
        Attr("traceloop.entity.version", OPENLLMETRY, as_str, AGENT),
        Attr("langfuse.version", LANGFUSE, as_str),
        Attr("service.version", None, as_str),
    ),
)


def _metadata(key: str) -> Derived:
    """A key inside OpenInference's ``metadata`` JSON (LangChain run metadata, 5.3)."""
    return Derived(
        f"metadata.{key}", json_key("metadata", key, read=as_str), ("metadata",), OPENINFERENCE
    )


SESSION_ID = Field(
    "session_id",
    (
        Attr("gen_ai.conversation.id", OTEL_GENAI, as_str),
        Attr("session.id", OPENINFERENCE, as_str),
        Attr("langfuse.session.id", LANGFUSE, as_str),
        Attr("traceloop.association.properties.session_id", OPENLLMETRY, as_str),
        Attr("traceloop.association.properties.conversation_id", OPENLLMETRY, as_str),
        Attr("traceloop.association.properties.chat_id", OPENLLMETRY, as_str),
        Attr("traceloop.association.properties.thread_id", OPENLLMETRY, as_str),
        Attr("ai.telemetry.metadata.sessionId", VERCEL_AI, as_str),
        Attr("langfuse.trace.metadata.langfuse_session_id", LANGFUSE, as_str),
        Attr("langfuse.observation.metadata.langfuse_session_id", LANGFUSE, as_str),
        _metadata("session_id"),
        _metadata("conversation_id"),
        _metadata("thread_id"),
    ),
)

# gen_ai.user / llm.user are the OpenAI request's ``user`` parameter: a weak fallback.
USER_ID = Field(
    "user_id",
    (
        # OTel's general user.id; OpenInference uses the same key.
        Attr("user.id", None, as_str),
        Attr("langfuse.user.id", LANGFUSE, as_str),
        Attr("enduser.id", None, as_str),
        Attr("traceloop.association.properties.user_id", OPENLLMETRY, as_str),
        Attr("ai.telemetry.metadata.userId", VERCEL_AI, as_str),
        _metadata("user_id"),
        Attr("gen_ai.user", OTEL_GENAI_DEPRECATED, as_str),
        Attr("llm.user", OPENLLMETRY, as_str),
    ),
)


def _root_span_name(ctx: Context) -> str | None:
    return None if ctx.span.parent_span_id else as_str(ctx.span.name)


TRACE_NAME = Field(
    "trace_name",
    (
        Attr("langfuse.trace.name", LANGFUSE, as_str),
        Attr("gen_ai.workflow.name", OTEL_GENAI, as_str),
        Attr("traceloop.workflow.name", OPENLLMETRY, as_str),
        Attr("ai.telemetry.functionId", VERCEL_AI, as_str),
        Derived("root span name", _root_span_name, signals=(signals.ROOT,)),
    ),
)

ENVIRONMENT = Field(
    "environment",
    (
        Attr("langfuse.environment", LANGFUSE, as_str),
        Attr("deployment.environment.name", None, as_str),
        Attr("deployment.environment", None, as_str),
    ),
)

# Not in 6.2's table: OTel's prompt-template name (v1.39, unrelated to gen_ai.prompt),
# Langfuse's linked prompt, Traceloop's managed prompt, OpenInference's template.
PROMPT_NAME = Field(
    "prompt_name",
    (
        Attr("langfuse.observation.prompt.name", LANGFUSE, as_str),
        Attr("gen_ai.prompt.name", OTEL_GENAI, as_str),
        Attr("traceloop.prompt.key", OPENLLMETRY, as_str),
        Attr("prompt.id", OPENINFERENCE, as_str),
    ),
)

PROMPT_VERSION = Field(
    "prompt_version",
    (
        Attr("langfuse.observation.prompt.version", LANGFUSE, as_str),
        Attr("traceloop.prompt.version", OPENLLMETRY, as_str),
        Attr("llm.prompt_template.version", OPENINFERENCE, as_str),
    ),
)

FINISH_REASONS = Field(
    "finish_reasons",
    (
        Attr("gen_ai.response.finish_reasons", OTEL_GENAI, as_str_list),
        Attr("llm.finish_reason", OPENINFERENCE, as_str_list),
        Attr("ai.response.finishReason", VERCEL_AI, as_str_list),
        Attr("ai.finishReason", VERCEL_AI, as_str_list),
        Derived(
            "output messages",
            lambda ctx: ctx.finish_reasons or None,
            signals=(signals.FINISH_REASONS,),
        ),
    ),
)


IDENTITY_FIELDS: tuple[Field, ...] = (
    MODEL,
    REQUEST_MODEL,
    PROVIDER,
    TOOL_NAME,
    TOOL_CALL_ID,
    TOOL_ARGUMENTS,
    TOOL_RESULT,
    AGENT_NAME,
    AGENT_ID,
    AGENT_VERSION,
    SESSION_ID,
    USER_ID,
    TRACE_NAME,
    ENVIRONMENT,
    PROMPT_NAME,
    PROMPT_VERSION,
    FINISH_REASONS,
)
