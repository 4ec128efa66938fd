"""What a span did, as one of the store's ten kinds (SEMCONV 6.1, in priority order).

Rules are tried in order and the first that matches decides. Our vocabulary is finer
than 6.1's: embeddings get their own kind (6.1's "llm(embedding)"), and wrappers that
only orchestrate (OpenInference CHAIN/PROMPT, Traceloop workflow/task, Vercel's outer
``ai.generateText``, ``invoke_workflow``) are ``chain`` rather than ``other``, which is
kept for spans that say nothing (UNKNOWN, Langfuse ``span``/``event``).

A ``gen_ai.agent.name`` alone never makes an agent: OpenLLMetry and Pydantic AI copy
it onto every child span (6.1 notes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from collector.normalize.context import Context
from collector.normalize.conventions import (
    LANGFUSE,
    OPENINFERENCE,
    OPENLLMETRY,
    OTEL_GENAI,
    VERCEL_AI,
)
from collector.normalize.values import usable
from store.vocabulary import SpanKind

AGENT, LLM, TOOL = SpanKind.AGENT, SpanKind.LLM, SpanKind.TOOL
RETRIEVAL, EMBEDDING, CHAIN = SpanKind.RETRIEVAL, SpanKind.EMBEDDING, SpanKind.CHAIN


def _first_word(value: str) -> str:
    """Vercel's ``operation.name`` is the operation id, a space, then the functionId."""
    return value.partition(" ")[0]


@dataclass(frozen=True, slots=True)
class ByValue:
    """The kind a key's value names; ``otherwise`` catches unlisted values by prefix."""

    key: str
    convention: str | None
    kinds: Mapping[str, SpanKind]
    normalize: Callable[[str], str] = str.lower
    otherwise: tuple[str, SpanKind] | None = None

    def match(self, ctx: Context) -> SpanKind | None:
        value = ctx.found.get(self.key)
        if type(value) is not str:
            return None
        value = self.normalize(value.strip())
        kind = self.kinds.get(value)
        if kind is None and self.otherwise is not None and value.startswith(self.otherwise[0]):
            return self.otherwise[1]
        return kind


@dataclass(frozen=True, slots=True)
class ByPresence:
    """A kind implied by a usable value under any of ``keys`` or any key under ``prefixes``.

    Prefix presence is only a signal: those keys' values are not read, so it does not
    make them known (they still show in ``unmapped``).
    """

    kind: SpanKind
    keys: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def match(self, ctx: Context) -> SpanKind | None:
        found = ctx.found
        for key in self.keys:
            if usable(found.get(key)):
                return self.kind
        if self.prefixes:
            # Keys typed Any: a hand-built span may hold non-str keys (see scan.py).
            for name in cast("dict[Any, Any]", ctx.span.attributes):
                if type(name) is str and name.startswith(self.prefixes):
                    return self.kind
        return None


@dataclass(frozen=True, slots=True)
class ByName:
    """A kind implied by the span name (``execute_tool x``, Pydantic AI v2 ``agent run``)."""

    kind: SpanKind
    prefixes: tuple[str, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)

    def match(self, ctx: Context) -> SpanKind | None:
        name = ctx.span.name
        if type(name) is str and (name in self.names or name.startswith(self.prefixes)):
            return self.kind
        return None


KindRule = ByValue | ByPresence | ByName

VERCEL_OPERATIONS: dict[str, SpanKind] = {
    "ai.generateText.doGenerate": LLM,
    "ai.generateObject.doGenerate": LLM,
    "ai.streamText.doStream": LLM,
    "ai.streamObject.doStream": LLM,
    "ai.embed.doEmbed": EMBEDDING,
    "ai.embedMany.doEmbed": EMBEDDING,
    "ai.toolCall": TOOL,
}

# Keys whose presence says "a model was called" (6.1 rule 9); embedding and reranker
# models say which kind of call.
LLM_MODEL_KEYS = (
    "langfuse.observation.model.name",
    "gen_ai.response.model",
    "llm.response.model_name",
    "llm.model_name",
    "ai.response.model",
    "gen_ai.request.model",
    "llm.request.model_name",
    "ai.model.id",
)

KIND_RULES: tuple[KindRule, ...] = (
    ByValue(
        "langfuse.observation.type",
        LANGFUSE,
        {
            "generation": LLM,
            "embedding": EMBEDDING,
            "agent": AGENT,
            "tool": TOOL,
            "retriever": RETRIEVAL,
            "guardrail": SpanKind.GUARDRAIL,
            "evaluator": SpanKind.EVALUATOR,
            "chain": CHAIN,
            "span": SpanKind.OTHER,
            "event": SpanKind.OTHER,
        },
    ),
    ByValue(
        "openinference.span.kind",
        OPENINFERENCE,
        {
            "LLM": LLM,
            "EMBEDDING": EMBEDDING,
            "AGENT": AGENT,
            "TOOL": TOOL,
            "RETRIEVER": RETRIEVAL,
            "RERANKER": RETRIEVAL,
            "GUARDRAIL": SpanKind.GUARDRAIL,
            "EVALUATOR": SpanKind.EVALUATOR,
            "CHAIN": CHAIN,
            "PROMPT": CHAIN,
            "UNKNOWN": SpanKind.OTHER,
        },
        str.upper,
    ),
    ByValue(
        "gen_ai.operation.name",
        OTEL_GENAI,
        {
            "chat": LLM,
            "text_completion": LLM,
            "generate_content": LLM,
            "completion": LLM,
            "generate": LLM,
            "llm_request": LLM,
            "embeddings": EMBEDDING,
            "invoke_agent": AGENT,
            "create_agent": AGENT,
            "execute_tool": TOOL,
            "retrieval": RETRIEVAL,
            "search_memory": RETRIEVAL,
            "vector_db_retrieve": RETRIEVAL,
            "plan": SpanKind.REASONING,
            "apply_guardrail": SpanKind.GUARDRAIL,
            "invoke_workflow": CHAIN,
            "execute_task": CHAIN,
        },
    ),
    ByValue(
        "traceloop.span.kind",
        OPENLLMETRY,
        {
            "agent": AGENT,
            "tool": TOOL,
            "workflow": CHAIN,
            "task": CHAIN,
        },
    ),
    ByValue(
        "llm.request.type",
        OPENLLMETRY,
        {
            "chat": LLM,
            "completion": LLM,
            "embedding": EMBEDDING,
            "rerank": RETRIEVAL,
        },
    ),
    ByValue("ai.operationId", VERCEL_AI, VERCEL_OPERATIONS, str, ("ai.", CHAIN)),
    ByValue("operation.name", None, VERCEL_OPERATIONS, _first_word, ("ai.", CHAIN)),
    ByPresence(TOOL, keys=("gen_ai.tool.name", "gen_ai.tool.call.id", "tool_arguments")),
    ByName(TOOL, prefixes=("execute_tool", "running tool")),
    ByName(AGENT, prefixes=("invoke_agent",), names=frozenset({"agent run"})),
    ByPresence(SpanKind.EVALUATOR, prefixes=("gen_ai.evaluation.", "evaluation.")),
    ByPresence(EMBEDDING, keys=("embedding.model_name",)),
    ByPresence(RETRIEVAL, keys=("reranker.model_name",)),
    ByPresence(LLM, keys=LLM_MODEL_KEYS),
)


def derive_kind(ctx: Context) -> SpanKind:
    for rule in KIND_RULES:
        kind = rule.match(ctx)
        if kind is not None:
            return kind
    return SpanKind.OTHER
