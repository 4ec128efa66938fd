"""A cohort's per-trace rows for drift (``evals/drift``): the newest traces a filter
selects, their steps and failed spans, and their eval scores, as DataFrames.

A cohort is bounded (``limit``, newest first): a drift report compares distributions,
and 20,000 traces pin a distribution down as well as a million do, in a second rather
than a minute. One row more than the limit is read, so the report can say when the
bound cut the cohort.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from store.models import Project, Score, Span, Trace
from store.queries import TraceFilter, filter_conditions
from store.vocabulary import USAGE_KINDS, SpanKind, Status

TRACE_FIELDS = (
    "trace_id",
    "start_time_ns",
    "duration_ns",
    "status",
    "outcome",
    "escalated",
    "llm_call_count",
    "tool_call_count",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced_count",
)
SPAN_FIELDS = ("trace_id", "kind", "tool_name", "name", "model", "status", "error_type")
SCORE_FIELDS = ("trace_id", "evaluator", "metric", "value")
# Steps (model and tool calls), model calls and failures: the spans drift reads.
_READ_KINDS = sorted({SpanKind.LLM.value, SpanKind.TOOL.value, *(k.value for k in USAGE_KINDS)})


@dataclass(frozen=True, slots=True)
class CohortRows:
    """``traces``: TRACE_FIELDS and ``output_length`` (characters of the root's
    output), newest first; ``spans``: SPAN_FIELDS, by trace then start time;
    ``scores``: SCORE_FIELDS, each trace's latest score per evaluator and metric."""

    traces: pd.DataFrame
    spans: pd.DataFrame
    scores: pd.DataFrame
    limited: bool  # the filter selects more traces than were read


def cohort_rows(
    connection: sa.Connection,
    selection: TraceFilter,
    *,
    limit: int,
    scores: Iterable[tuple[str, str]] | None = None,
) -> CohortRows:
    """The newest ``limit`` traces of one project's ``selection`` and their spans and
    scores; ``scores``: the (evaluator, metric) pairs to read, None for all."""
    if selection.project is None:
        raise ValueError("a cohort is one project's: the filter must name it")
    project_id = connection.scalar(sa.select(Project.id).where(Project.name == selection.project))
    if project_id is None:
        return CohortRows(
            _empty([*TRACE_FIELDS, "output_length"]),
            _empty(SPAN_FIELDS),
            _empty(SCORE_FIELDS),
            False,
        )
    newest = (Trace.start_time_ns.desc(), Trace.id.desc())
    conditions = filter_conditions(selection)
    rows = connection.execute(
        sa.select(
            *(getattr(Trace, name) for name in TRACE_FIELDS),
            sa.func.length(Trace.output).label("output_length"),
        )
        .where(*conditions)
        .order_by(*newest)
        .limit(limit + 1)
    ).all()
    traces = _frame(rows[:limit], [*TRACE_FIELDS, "output_length"])
    ids = sa.select(Trace.trace_id).where(*conditions).order_by(*newest).limit(limit)
    in_cohort = sa.and_(Span.project_id == project_id, Span.trace_id.in_(ids))
    spans = connection.execute(
        sa.select(*(getattr(Span, name) for name in SPAN_FIELDS))
        .where(in_cohort, sa.or_(Span.kind.in_(_READ_KINDS), Span.status == Status.ERROR.value))
        .order_by(Span.trace_id, Span.start_time_ns, Span.span_id)
    ).all()
    score_query = sa.select(*(getattr(Score, name) for name in SCORE_FIELDS)).where(
        Score.project_id == project_id, Score.trace_id.in_(ids), Score.value.is_not(None)
    )
    if scores is not None:
        wanted = sorted(set(scores))
        if not wanted:
            score_query = score_query.where(sa.false())
        else:
            score_query = score_query.where(
                sa.or_(*(sa.and_(Score.evaluator == e, Score.metric == m) for e, m in wanted))
            )
    score_rows = connection.execute(score_query.order_by(Score.id)).all()
    latest = _frame(score_rows, list(SCORE_FIELDS)).drop_duplicates(
        ["trace_id", "evaluator", "metric"], keep="last"
    )
    return CohortRows(traces, _frame(spans, list(SPAN_FIELDS)), latest, len(rows) > limit)


def _frame(rows: list[sa.Row[tuple[object, ...]]], columns: list[str]) -> pd.DataFrame:
    """Rows as plain tuples first (see evals/frames.py: pandas probes a Row slowly)."""
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))
