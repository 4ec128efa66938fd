"""One evaluation result, as an agent sent it, -> an :class:`~store.batch.AgentScore`.

Whatever the form it came in (``collector/agent_scores.py``), an evaluation is a name,
a score, a label and an explanation. The values are untrusted: a score that is not a
finite number is stored as ``value`` None with what was sent kept in ``details``,
the label and explanation still stored. Nothing here raises on a value; only a
nameless evaluation gives no row (the raw event or attributes are stored regardless).

``passed`` is set only from a label that says pass or fail outright (case and
surrounding spaces ignored): pass, passed, true, correct -> True; fail, failed, false,
incorrect -> False. Anything else ("relevant", "hallucinated", "0.7") is a measure,
not a verdict, and leaves ``passed`` None: guessing which way "yes" points for a
"hallucination" evaluator would be wrong half the time.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

import orjson

from collector.limits import indexed
from collector.normalize.values import as_float
from store.batch import AgentScore
from store.types import to_json

PASSED_LABELS = frozenset({"pass", "passed", "true", "correct"})
FAILED_LABELS = frozenset({"fail", "failed", "false", "incorrect"})

# Bump when the digest's input changes: a retry across an upgrade is then stored
# twice rather than confused with another result.
_DIGEST_VERSION = 1
# What of an unusable score is kept in details: enough to see what was sent.
_RAW_CHARS = 256


def agent_score(
    trace_id: str,
    span_id: str | None,
    *,
    name: Any,
    score: Any,
    label: Any,
    explanation: Any,
    time_ns: int,
    form: str,
    extra: dict[str, Any] | None = None,
) -> AgentScore | None:
    """The score row for one evaluation, or None when it has no usable name.

    ``form`` says where it was found (span_event, log_record, openinference,
    evaluator_span); ``extra`` holds the evaluation's other attributes (annotator_kind,
    error.type, gen_ai.response.id, ...), kept in ``details``. The dedupe key covers
    (trace_id, span_id, name, value, label, explanation, time) and not the form, so one
    result sent both as a span event and as a log record is stored once.
    """
    evaluator = indexed(_text(name))  # the scores table indexes it
    if evaluator is None or not evaluator.strip():
        return None
    value = as_float(score)
    label_text = _text(label)
    explanation_text = _text(explanation)
    details: dict[str, Any] = {"form": form}
    if score is not None and value is None:
        details["score_raw"] = _raw(score)
    if label is not None and label_text is None:
        details["label_raw"] = _raw(label)
    if extra:
        details["attributes"] = extra
    identity = (
        _DIGEST_VERSION, trace_id, span_id, evaluator, value, label_text, explanation_text,
        time_ns,
    )  # fmt: skip
    return AgentScore(
        trace_id=trace_id,
        span_id=span_id,
        evaluator=evaluator,
        metric=evaluator,
        value=value,
        label=label_text,
        passed=passed_from_label(label_text),
        explanation=explanation_text,
        # Through JSON and back: NaN and other values JSONB would refuse become null,
        # as they do in the span's own attributes column.
        details=orjson.loads(to_json(details)),
        dedupe_key=hashlib.blake2b(orjson.dumps(identity), digest_size=16).hexdigest(),
        created_at=_moment(time_ns),
    )


def passed_from_label(label: str | None) -> bool | None:
    if label is None:
        return None
    word = label.strip().casefold()
    if word in PASSED_LABELS:
        return True
    if word in FAILED_LABELS:
        return False
    return None


def _text(value: Any) -> str | None:
    """A string attribute as sent; a bool or finite number as its usual spelling."""
    kind = type(value)
    if kind is str:
        return value if value else None
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):
        return str(value)
    return None


def _raw(value: Any) -> Any:
    if type(value) is str:
        return value[:_RAW_CHARS]
    if type(value) in (bool, int):
        return value
    if type(value) is float:
        return repr(value)  # nan, inf: JSON has no spelling for them
    return f"<{type(value).__name__}>"


def _moment(time_ns: int) -> datetime:
    """The evaluation's time, or now when the client sent none (or an absurd one)."""
    if time_ns > 0:
        try:
            seconds, nanos = divmod(time_ns, 1_000_000_000)
            return datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
        except (OverflowError, ValueError, OSError):
            pass
    return datetime.now(UTC)
