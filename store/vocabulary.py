"""Values the store's columns take, shared by every stage that writes or queries them.

They live in ``store`` because rollups and filters are written against them, and the
collector (which produces them) and the web/evals layers (which read them) both import
``store``; nothing here imports upward.
"""

from enum import StrEnum


class SpanKind(StrEnum):
    """What a span did, whatever convention the client used to say it."""

    AGENT = "agent"
    LLM = "llm"
    TOOL = "tool"
    RETRIEVAL = "retrieval"
    EMBEDDING = "embedding"
    REASONING = "reasoning"
    GUARDRAIL = "guardrail"
    EVALUATOR = "evaluator"
    CHAIN = "chain"
    OTHER = "other"


# Spans whose token and cost figures are their own, not a repeat of their children's.
# Agent and wrapper spans (invoke_agent, Vercel's outer ai.generateText, pydantic-ai's
# aggregated usage) often repeat the usage of the model calls below them; summing only
# these kinds keeps trace totals from counting a call twice.
USAGE_KINDS: tuple[SpanKind, ...] = (SpanKind.LLM, SpanKind.EMBEDDING)


class Status(StrEnum):
    """Outcome of a span or trace. OTel's UNSET counts as ok: only ERROR is a failure."""

    OK = "ok"
    ERROR = "error"
