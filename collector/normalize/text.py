"""Display text, system instructions and reasoning (SEMCONV 6.2, content rows).

``input_text``/``output_text`` are what a person reads first: the raw value a client
sent when there is one (a string as is, anything structured as JSON text), otherwise a
readable rendering of the parsed messages (:mod:`.content`).
"""

from __future__ import annotations

from typing import Any

from collector.normalize import signals
from collector.normalize.canonical import Message
from collector.normalize.context import Context
from collector.normalize.conventions import (
    GOOGLE_ADK,
    LANGFUSE,
    MLFLOW,
    OPENINFERENCE,
    OPENLLMETRY,
    OTEL_GENAI,
    PYDANTIC_AI,
    VERCEL_AI,
)
from collector.normalize.messages import PART_KINDS, TEXT
from collector.normalize.sources import Attr, Derived, Field
from collector.normalize.values import as_str, as_text, parse_json
from store import messages as conversation
from store.vocabulary import SpanKind

TOOL = frozenset({SpanKind.TOOL})


def instructions_text(value: Any) -> str | None:
    """``gen_ai.system_instructions``: a part list (text parts joined) or plain text."""
    value = parse_json(value)
    if type(value) is dict:
        value = [value]
    if type(value) is not list:
        return as_str(value)
    texts = []
    for part in value:
        if type(part) is str:
            texts.append(part)
        elif type(part) is dict:
            part_type = part.get("type")
            if part_type is None or (type(part_type) is str and PART_KINDS.get(part_type) == TEXT):
                text = as_str(part.get("content")) or as_str(part.get("text"))
                if text is not None:
                    texts.append(text)
    return "\n".join(texts) or None


def system_from_messages(ctx: Context) -> str | None:
    """The system/developer messages' text, when no instructions attribute was sent."""
    texts = [
        message["content"]
        for message in ctx.input_messages or ()
        if message.get("role") in ("system", "developer") and message.get("content")
    ]
    return "\n".join(texts) or None


SYSTEM_INSTRUCTIONS_KEY = "gen_ai.system_instructions"
SYSTEM_INSTRUCTIONS = Field(
    "system_instructions",
    (
        Attr(SYSTEM_INSTRUCTIONS_KEY, OTEL_GENAI, instructions_text),
        Derived("system messages", system_from_messages, signals=(signals.INPUT_MESSAGES,)),
    ),
)


def render_input(ctx: Context) -> str | None:
    return conversation.render_input(ctx.input_messages)


def render_output(ctx: Context) -> str | None:
    return conversation.render_output(ctx.output_messages)


# Beyond 6.2: Vercel's embed spans carry the embedded text as ``ai.value(s)``.
INPUT_TEXT = Field(
    "input_text",
    (
        Attr("langfuse.observation.input", LANGFUSE, as_text),
        Attr("input.value", OPENINFERENCE, as_text),
        Attr("traceloop.entity.input", OPENLLMETRY, as_text),
        Attr("ai.prompt", VERCEL_AI, as_text),
        Attr("gen_ai.tool.call.arguments", OTEL_GENAI, as_text, TOOL),
        Attr("tool_arguments", PYDANTIC_AI, as_text, TOOL),
        Attr("ai.toolCall.args", VERCEL_AI, as_text, TOOL),
        Attr("gcp.vertex.agent.llm_request", GOOGLE_ADK, as_text),
        Attr("mlflow.spanInputs", MLFLOW, as_text),
        Attr("ai.value", VERCEL_AI, as_text),
        Attr("ai.values", VERCEL_AI, as_text),
        Attr("input", None, as_text),
        Derived("input_messages", render_input, signals=(signals.INPUT_MESSAGES,)),
    ),
)

OUTPUT_TEXT = Field(
    "output_text",
    (
        Attr("langfuse.observation.output", LANGFUSE, as_text),
        Attr("output.value", OPENINFERENCE, as_text),
        Attr("traceloop.entity.output", OPENLLMETRY, as_text),
        Attr("final_result", PYDANTIC_AI, as_text),
        Attr("gen_ai.tool.call.result", OTEL_GENAI, as_text, TOOL),
        Attr("tool_response", PYDANTIC_AI, as_text, TOOL),
        Attr("ai.toolCall.result", VERCEL_AI, as_text, TOOL),
        Attr("ai.response.text", VERCEL_AI, as_text),
        Attr("gcp.vertex.agent.llm_response", GOOGLE_ADK, as_text),
        Attr("mlflow.spanOutputs", MLFLOW, as_text),
        Attr("output", None, as_text),
        Derived("output_messages", render_output, signals=(signals.OUTPUT_MESSAGES,)),
    ),
)


def reasoning_text(messages: list[Message] | None) -> str | None:
    """Reasoning of the output messages (OTel ``reasoning``, OpenInference, thinking)."""
    texts = [message["reasoning"] for message in messages or () if message.get("reasoning")]
    return "\n".join(texts) or None
