"""Rows for the long CSV exports, read in keyset chunks.

An export of a large store is long: each chunk is its own short transaction (one long
read would hold back SQLite's WAL checkpoints and PostgreSQL's vacuum meanwhile).
Traces or spans written during an export may or may not be in it, as with paging the
API. The caller chooses the selected columns (``store.csv_cells`` renders most of a
CSV line in the database); each function names the tables its columns may use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from store.models import Project, Score, Span, SpanCost, Trace
from store.models.span_cost import cost_of_span
from store.queries import SortKey, TraceFilter, encode_cursor, traces_query

# Rows per chunk: large enough that a chunk's query costs little beside its rows,
# small enough that a chunk's rows (a few MB of text) are nothing to hold.
EXPORT_CHUNK = 5000

Columns = Sequence[sa.ColumnElement[Any]]


def iter_trace_rows(
    engine: sa.Engine,
    f: TraceFilter,
    columns: Columns,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[sa.Row[Any]]:
    """Every trace of the selection in the order of ``/api/traces``: rows of
    ``columns`` (of ``Trace`` and ``Project``), then ``sort_value`` and ``id``."""
    cursor = None
    while True:
        query = traces_query(f, sort=sort, descending=descending, limit=chunk, cursor=cursor)
        sort_value = list(query.selected_columns)[-1]
        query = query.with_only_columns(*columns, sort_value, Trace.id)
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


def iter_span_rows(
    engine: sa.Engine, f: SpanFilter, columns: Columns, *, chunk: int = EXPORT_CHUNK
) -> Iterator[sa.Row[Any]]:
    """Every selected span in the order stored (by row id): rows of ``columns`` (of
    ``Span`` and ``SpanCost``, or subqueries), then ``id``."""
    query = span_rows_query(f, columns, chunk)
    after = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(query.where(Span.id > after)).all()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].id


def span_rows_query(f: SpanFilter, columns: Columns, chunk: int) -> sa.Select[Any]:
    """One chunk of :func:`iter_span_rows`, before its ``id >`` bound: keyset on the
    primary key, so each chunk is a range seek, never a sort of the selection
    (``tests/test_schema.py`` checks the plan)."""
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
    return (
        sa.select(*columns, Span.id)
        .select_from(Span)
        .outerjoin(SpanCost, cost_of_span(Span))
        .where(*conditions)
        .order_by(Span.id)
        .limit(chunk)
    )


def iter_run_scores(
    engine: sa.Engine,
    run_id: int,
    columns: Columns,
    *,
    evaluator: str | None = None,
    failed_only: bool = False,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[sa.Row[Any]]:
    """A run's scores in the order of its results page (evaluator, then as written):
    rows of ``columns`` (of ``Score``, and ``Trace``: null once the trace is gone), then
    ``evaluator`` and ``id``."""
    query = (
        sa.select(*columns, Score.evaluator, Score.id)
        .select_from(Score)
        .outerjoin(
            Trace, sa.and_(Trace.project_id == Score.project_id, Trace.trace_id == Score.trace_id)
        )
        .where(Score.run_id == run_id)
        .order_by(Score.evaluator, Score.id)
        .limit(chunk)
    )
    if evaluator is not None:
        query = query.where(Score.evaluator == evaluator)
    if failed_only:
        query = query.where(Score.passed.is_(False))
    page = query
    while True:
        with engine.connect() as connection:
            rows = connection.execute(page).all()
        yield from rows
        if len(rows) < chunk:
            return
        last_evaluator, last_id = rows[-1][-2], rows[-1][-1]
        page = query.where(
            sa.or_(
                Score.evaluator > last_evaluator,
                sa.and_(Score.evaluator == last_evaluator, Score.id > last_id),
            )
        )
