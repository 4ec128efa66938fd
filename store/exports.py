"""Rows for the CSV exports, read in keyset chunks as plain tuples.

An export of a large store is long: each chunk is its own short transaction (one long
read would hold back SQLite's WAL checkpoints and PostgreSQL's vacuum meanwhile), and
rows are Core tuples, not ORM objects, since building a million entities costs more
than the whole of the CSV writing (measured in ``bench/csv_export.py``). Traces or
spans written during an export may or may not be in it, as with paging the API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from store.models import Project, Score, Span, SpanCost, Trace
from store.models.span_cost import cost_of_span
from store.queries import MAX_PAGE, SortKey, TraceFilter, encode_cursor, traces_query

EXPORT_CHUNK = 5000


def iter_trace_rows(
    engine: sa.Engine,
    f: TraceFilter,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[sa.Row[Any]]:
    """Every trace of the selection in the order of ``/api/traces``: rows of the
    traces table's columns, then ``project`` (the project's name) and ``sort_value``."""
    cursor = None
    columns = [*Trace.__table__.columns, Project.name.label("project")]
    while True:
        query = traces_query(f, sort=sort, descending=descending, limit=chunk, cursor=cursor)
        query = query.with_only_columns(*columns, *query.selected_columns[-1:])
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        yield from rows[:chunk]
        if len(rows) <= chunk:
            return
        last = rows[chunk - 1]
        cursor = encode_cursor(last.sort_value, last.id)


@dataclass(frozen=True, slots=True)
class SpanFilter:
    """Which spans to export; None means "any". Times in ns, bounds inclusive."""

    project: str | None = None
    trace_id: str | None = None
    kind: str | None = None
    model: str | None = None
    start_after_ns: int | None = None
    start_before_ns: int | None = None


SPAN_COLUMNS: Sequence[sa.ColumnElement[Any]] = (
    Project.name.label("project"),
    Span.trace_id, Span.span_id, Span.parent_span_id, Span.name, Span.kind,
    Span.service_name, Span.start_time_ns, Span.end_time_ns, Span.duration_ns, Span.status,
    Span.status_message, Span.error_type, Span.error_message, Span.model, Span.provider,
    Span.input_tokens, Span.output_tokens, Span.reasoning_tokens, Span.cache_read_tokens,
    Span.cache_write_tokens, SpanCost.cost_usd, SpanCost.cost_source, Span.tool_name,
    Span.tool_arguments, Span.tool_result, Span.agent_name, Span.agent_version,
    Span.session_id, Span.user_id, Span.prompt_name, Span.prompt_version, Span.confidence,
    Span.input_text, Span.output_text,
)  # fmt: skip


def iter_span_rows(
    engine: sa.Engine, f: SpanFilter, *, chunk: int = EXPORT_CHUNK
) -> Iterator[sa.Row[Any]]:
    """Every selected span, in the order stored (by row id), as rows of
    :data:`SPAN_COLUMNS`: keyset on the primary key, so each chunk is a range seek."""
    conditions: list[sa.ColumnElement[bool]] = []
    if f.project is not None:
        project_id = sa.select(Project.id).where(Project.name == f.project).scalar_subquery()
        conditions.append(Span.project_id == project_id)
    if f.trace_id is not None:
        conditions.append(Span.trace_id == f.trace_id)
    if f.kind is not None:
        conditions.append(Span.kind == f.kind)
    if f.model is not None:
        conditions.append(Span.model == f.model)
    if f.start_after_ns is not None:
        conditions.append(Span.start_time_ns >= f.start_after_ns)
    if f.start_before_ns is not None:
        conditions.append(Span.start_time_ns <= f.start_before_ns)
    query = (
        sa.select(Span.id, *SPAN_COLUMNS)
        .join(Project, Project.id == Span.project_id)
        .outerjoin(SpanCost, cost_of_span(Span))
        .where(*conditions)
        .order_by(Span.id)
        .limit(chunk)
    )
    after = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(query.where(Span.id > after)).all()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].id


def iter_run_scores(
    engine: sa.Engine,
    run_id: int,
    *,
    evaluator: str | None = None,
    failed_only: bool = False,
    chunk: int = MAX_PAGE * 5,
) -> Iterator[sa.Row[Any]]:
    """A run's scores in the order of its results page (evaluator, then as written),
    with each score's trace name and status (None once the trace is gone)."""
    query = (
        sa.select(Score, Trace.name.label("trace_name"), Trace.status.label("trace_status"))
        .outerjoin(
            Trace, sa.and_(Trace.project_id == Score.project_id, Trace.trace_id == Score.trace_id)
        )
        .where(Score.run_id == run_id)
        .order_by(Score.evaluator, Score.id)
        .limit(chunk)
    )
    query = query.with_only_columns(
        *Score.__table__.columns, Trace.name.label("trace_name"), Trace.status.label("trace_status")
    )
    if evaluator is not None:
        query = query.where(Score.evaluator == evaluator)
    if failed_only:
        query = query.where(Score.passed.is_(False))
    after: tuple[str, int] | None = None
    while True:
        page = query
        if after is not None:
            page = query.where(
                sa.or_(
                    Score.evaluator > after[0],
                    sa.and_(Score.evaluator == after[0], Score.id > after[1]),
                )
            )
        with engine.connect() as connection:
            rows = connection.execute(page).all()
        yield from rows
        if len(rows) < chunk:
            return
        after = (rows[-1].evaluator, rows[-1].id)
