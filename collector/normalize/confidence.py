"""A decision's confidence, where the agent reports one, and the attribute it came from.

There is no standard attribute (SEMCONV 6.2): evaluation scores from OTel, OpenInference
and OpenLIT come first, then any span key named ``confidence`` or ``*.confidence``, the
spelling custom agents use. ``confidence_source`` records which one was read, so a
dashboard can tell an evaluator's score from an agent's self-assessment.
"""

from __future__ import annotations

from typing import Any

from collector.normalize import signals
from collector.normalize.canonical import Canonical
from collector.normalize.context import Context
from collector.normalize.conventions import OPENINFERENCE, OPENLIT, OTEL_GENAI
from collector.normalize.sources import Attr, Derived, Field
from collector.normalize.values import as_float

CUSTOM_KEY = "confidence"
CUSTOM_SUFFIX = ".confidence"


def _evaluation_event_score(ctx: Context) -> float | None:
    event = ctx.events.evaluation
    return as_float(event.get("gen_ai.evaluation.score.value")) if event else None


def _indexed_evaluation_score(ctx: Context) -> float | None:
    for item in ctx.family("evaluations"):
        if type(item) is dict and type(item.get("evaluation")) is dict:
            score = as_float(item["evaluation"].get("score"))
            if score is not None:
                return score
    return None


CONFIDENCE = Field(
    "confidence",
    (
        Attr("gen_ai.evaluation.score.value", OTEL_GENAI, as_float),
        Derived(
            "gen_ai.evaluation.result:gen_ai.evaluation.score.value",
            _evaluation_event_score,
            signals=(signals.EVALUATION_EVENT,),
        ),
        Attr("evaluation.score", OPENINFERENCE, as_float),
        Attr("annotation.score", OPENINFERENCE, as_float),
        Derived(
            "evaluations.<i>.evaluation.score",
            _indexed_evaluation_score,
            signals=(signals.family("evaluations"),),
        ),
        Attr("guard.score", OPENLIT, as_float),
        Attr("evals.score", OPENLIT, as_float),
    ),
)


def is_custom_confidence_key(key: str) -> bool:
    """A key no convention defines but whose name says it is a confidence."""
    return key == CUSTOM_KEY or key.endswith(CUSTOM_SUFFIX)


def apply_custom_confidence(out: Canonical, keys: list[str], attributes: dict[str, Any]) -> None:
    """The lowest-priority candidates: custom keys, in sorted order so the pick is stable."""
    for key in sorted(keys):
        value = as_float(attributes.get(key))
        if value is not None:
            out.confidence = value
            out.confidence_source = key
            return
