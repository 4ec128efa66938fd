"""Evaluation results the agent sent itself, found in its spans and log records.

They become ``scores`` rows with source "agent" (``store/write.py`` inserts them with
the spans or logs they came with, in one transaction). The forms read (SEMCONV 2.5,
3, 6.2):

- ``gen_ai.evaluation.result`` as a span event: the span carrying it is the span it
  evaluates (the convention says it SHOULD be parented to it).
- ``gen_ai.evaluation.result`` as an OTLP log record (``/v1/logs``, gRPC logs): the
  record's trace_id/span_id say what it evaluates; a record with no trace_id has no
  trace to score and gives no row (the record itself is stored all the same).
- OpenInference feedback lists on a span: ``evaluations.<i>.evaluation.*`` and
  ``annotations.<i>.annotation.*`` score that span; their ``trace.``-scoped forms
  score the trace (span_id None).
- A span of kind evaluator carrying ``gen_ai.evaluation.*`` (or OpenInference's
  ``evaluation.*``/``annotation.*``) on itself: the score is kept on that span, which
  the trace shows beside what it judged (no evaluated span is guessed).

Most spans carry none of these. :func:`may_carry_scores` decides that with a few
dict look-ups, so the ingest hot path pays nothing measurable for them; an
OpenInference list is recognised by its first item's name (index 0), as every
flattener writes lists from zero.
"""

from __future__ import annotations

from typing import Any

from collector.agent_scores_row import agent_score
from collector.log_records import RawLogRecord
from collector.normalize.unflatten import is_index, unflatten
from collector.spans import RawSpan
from store.batch import AgentScore
from store.vocabulary import SpanKind

EVALUATION_EVENT = "gen_ai.evaluation.result"

NAME = "gen_ai.evaluation.name"
SCORE = "gen_ai.evaluation.score.value"
LABEL = "gen_ai.evaluation.score.label"
EXPLANATION = "gen_ai.evaluation.explanation"
_MAPPED = frozenset({NAME, SCORE, LABEL, EXPLANATION})

# OpenInference lists: (attribute prefix, item key, scores the trace rather than the span).
LISTS: tuple[tuple[str, str, bool], ...] = (
    ("evaluations", "evaluation", False),
    ("annotations", "annotation", False),
    ("trace.evaluations", "evaluation", True),
    ("trace.annotations", "annotation", True),
)
_FIRST_NAMES = tuple(f"{prefix}.0.{item}.name" for prefix, item, _ in LISTS)
_FIRST_0, _FIRST_1, _FIRST_2, _FIRST_3 = _FIRST_NAMES
_ITEM_FIELDS = frozenset({"name", "score", "label", "explanation"})

# An evaluator span's own result: each field's spellings, first found wins.
_SPAN_FIELDS: dict[str, tuple[str, ...]] = {
    "name": (NAME, "evaluation.name", "annotation.name"),
    "score": (SCORE, "evaluation.score", "annotation.score"),
    "label": (LABEL, "evaluation.label", "annotation.label"),
    "explanation": (EXPLANATION, "evaluation.explanation", "annotation.explanation"),
}
_SPAN_EXTRA_PREFIXES = ("gen_ai.evaluation.", "evaluation.", "annotation.")
_SPAN_EXTRA_KEYS = ("error.type", "gen_ai.response.id")
# Bound once: reading an enum member through its class costs as much as four dict
# look-ups on Python 3.11, and this is read for every span.
_EVALUATOR = SpanKind.EVALUATOR


def may_carry_scores(span: RawSpan, kind: SpanKind) -> bool:
    """Cheap: False for a span that certainly carries no evaluation result."""
    if span.events or kind is _EVALUATOR:
        return True
    attributes = span.attributes
    try:
        return (
            _FIRST_0 in attributes
            or _FIRST_1 in attributes
            or _FIRST_2 in attributes
            or _FIRST_3 in attributes
        )
    except TypeError:  # a hand-built span whose attributes are not a dict
        return False


def span_scores(span: RawSpan, kind: SpanKind) -> list[AgentScore]:
    """Every evaluation result the span carries: events, lists, its own (evaluator)."""
    found: list[AgentScore] = []
    for event in span.events if type(span.events) is list else ():
        if type(event) is dict and event.get("name") == EVALUATION_EVENT:
            attributes = event.get("attributes")
            if type(attributes) is dict:
                time_ns = event.get("time_unix_nano")
                when = time_ns if type(time_ns) is int and time_ns else span.end_time_ns
                _add(found, _otel(span.trace_id, span.span_id, attributes, when, "span_event"))
    attributes = span.attributes
    if type(attributes) is dict:
        for (prefix, item, trace_scoped), first in zip(LISTS, _FIRST_NAMES, strict=True):
            if first in attributes:
                span_id = None if trace_scoped else span.span_id
                for entry in _list(attributes, prefix, item):
                    _add(found, _listed(span, span_id, entry))
        if kind is _EVALUATOR:
            _add(found, _evaluator_span(span, attributes))
    return found


def log_scores(record: RawLogRecord) -> list[AgentScore]:
    """The evaluation result a ``gen_ai.evaluation.result`` log record carries, if any."""
    if record.event_name != EVALUATION_EVENT or record.trace_id is None:
        return []
    attributes = record.attributes
    # Some event APIs put an event's fields in the body instead (a map).
    if NAME not in attributes and type(record.body) is dict and NAME in record.body:
        attributes = record.body
    when = record.time_ns or record.observed_time_ns
    found: list[AgentScore] = []
    _add(found, _otel(record.trace_id, record.span_id, attributes, when, "log_record"))
    return found


def _add(found: list[AgentScore], score: AgentScore | None) -> None:
    if score is not None:
        found.append(score)


def _otel(
    trace_id: str, span_id: str | None, attributes: dict[str, Any], time_ns: int, form: str
) -> AgentScore | None:
    extra = {key: value for key, value in attributes.items() if key not in _MAPPED}
    return agent_score(
        trace_id,
        span_id,
        name=attributes.get(NAME),
        score=attributes.get(SCORE),
        label=attributes.get(LABEL),
        explanation=attributes.get(EXPLANATION),
        time_ns=time_ns,
        form=form,
        extra=extra,
    )


def _list(attributes: dict[str, Any], prefix: str, item: str) -> list[dict[str, Any]]:
    """The list's items (each the dict under ``item``), rebuilt from flattened keys."""
    start = len(prefix) + 1
    keys = [
        key
        for key in attributes
        if type(key) is str
        and key.startswith(prefix)
        and key[start - 1 : start] == "."
        and is_index(key[start:].partition(".")[0])
    ]
    entries = []
    for value in unflatten(attributes, prefix, keys):
        entry = value.get(item) if isinstance(value, dict) else None
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _listed(span: RawSpan, span_id: str | None, entry: dict[str, Any]) -> AgentScore | None:
    extra = {key: value for key, value in entry.items() if key not in _ITEM_FIELDS}
    return agent_score(
        span.trace_id,
        span_id,
        name=entry.get("name"),
        score=entry.get("score"),
        label=entry.get("label"),
        explanation=entry.get("explanation"),
        time_ns=span.end_time_ns,
        form="openinference",
        extra=extra,
    )


def _evaluator_span(span: RawSpan, attributes: dict[str, Any]) -> AgentScore | None:
    values = {
        field: next((attributes[key] for key in keys if key in attributes), None)
        for field, keys in _SPAN_FIELDS.items()
    }
    if all(value is None for value in values.values()):
        return None  # an evaluator span that reports no result on itself
    used = {key for keys in _SPAN_FIELDS.values() for key in keys}
    extra = {
        key: value
        for key, value in attributes.items()
        if type(key) is str
        and key not in used
        and (key.startswith(_SPAN_EXTRA_PREFIXES) or key in _SPAN_EXTRA_KEYS)
    }
    return agent_score(
        span.trace_id,
        span.span_id,
        # A result without its evaluator's name is named after the span.
        name=values["name"] if values["name"] is not None else span.name,
        score=values["score"],
        label=values["label"],
        explanation=values["explanation"],
        time_ns=span.end_time_ns,
        form="evaluator_span",
        extra=extra,
    )
