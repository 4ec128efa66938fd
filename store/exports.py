"""Rows for the long CSV exports, read in ranges.

An export is cut into ranges (of traces in the export's order, or of span row ids),
each read in its own short transaction: one long read would hold back SQLite's WAL
checkpoints and PostgreSQL's vacuum meanwhile. Joined in order, ranges are the
selection without gaps or repeats, however many traces arrive while they are read.
Traces or spans written during an export may or may not be in it, as with paging the
API. The caller chooses the selected columns; each
function names the tables its columns may use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from store.models import Project, Score, Span, SpanCost, Trace
from store.models.span_cost import cost_of_span
from store.queries import (
    SortKey,
    TraceFilter,
    after_key,
    filter_conditions,
    sort_expression,
    sort_key_bounds,
    through_key,
    trace_order,
)
from store.text_search import SQLITE_LOWER

# Rows per chunk: large enough that a chunk's query costs little beside its rows,
# small enough that a chunk's rows (a few MB of text) are nothing to hold.
EXPORT_CHUNK = 5000

Columns = Sequence[sa.ColumnElement[Any]]

# How the range cutters read keys: a query's rows, in a short transaction of its own.
# Through SQLAlchemy here (``engine_reader``); the export worker reads them through the
# same driver as the ranges themselves (``store/arrow_read.py``), since two SQLite
# libraries in one process drop each other's file locks.
Read = Callable[[sa.Select[Any]], Sequence[Sequence[Any]]]


def sqlite_portable(query: sa.Select[Any]) -> bool:
    """Whether ``query`` runs on any SQLite connection to the file: not when it calls a
    function that only the server's own connections define (the Unicode ``lower()``
    of a text search, ``store/text_search.py``)."""
    return SQLITE_LOWER not in str(query.compile(dialect=sqlite.dialect()))


def engine_reader(engine: sa.Engine) -> Read:
    def read(query: sa.Select[Any]) -> Sequence[Sequence[Any]]:
        with engine.connect() as connection:
            return connection.execute(query).all()

    return read


TraceKey = tuple[float | int, int]  # a trace's sort value and row id


@dataclass(frozen=True, slots=True)
class TraceRange:
    """A stretch of an export's traces, in its order: after ``after`` (exclusive; None:
    from the first), through ``through`` (inclusive; None: to the last). Bounded both
    ways, a range read later still holds every trace it held when it was cut, however
    many traces arrive meanwhile: a range cut by count alone (``LIMIT``) would drop the
    trace that a new arrival pushed out of it."""

    after: TraceKey | None
    through: TraceKey | None


def trace_ranges(
    engine: sa.Engine,
    f: TraceFilter,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[TraceRange]:
    """The selection cut into ranges of ``chunk`` traces, read as keys only (the sort
    value and row id come from the sort column's index, never the rows), one short
    transaction per range: ranges can be cut while earlier ones are being read."""
    return cut_trace_ranges(engine_reader(engine), f, sort=sort, descending=descending, chunk=chunk)


def cut_trace_ranges(
    read: Read,
    f: TraceFilter,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[TraceRange]:
    """:func:`trace_ranges`, reading keys with ``read``."""
    key = sort_expression(sort)
    after: TraceKey | None = None
    while True:
        query = (
            sa.select(key, Trace.id)
            .where(*filter_conditions(f), *sort_key_bounds(f, sort))
            .order_by(*trace_order(key, descending))
            .limit(chunk)
        )
        if after is not None:
            query = query.where(*after_key(key, after, descending=descending))
        keys = read(query)
        if len(keys) < chunk:
            yield TraceRange(after, None)
            return
        through = (keys[-1][0], keys[-1][1])
        yield TraceRange(after, through)
        after = through


def trace_range_rows(
    connection: sa.Connection,
    f: TraceFilter,
    columns: Columns,
    span: TraceRange,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
) -> Sequence[sa.Row[Any]]:
    """The range's traces in order: rows of ``columns`` (of ``Trace``)."""
    query = trace_range_query(f, columns, span, sort=sort, descending=descending)
    return connection.execute(query).all()


def trace_range_query(
    f: TraceFilter,
    columns: Columns,
    span: TraceRange,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
) -> sa.Select[Any]:
    """One range of the traces export, in the export's order (:func:`trace_range_rows`)."""
    key = sort_expression(sort)
    conditions = (*filter_conditions(f), *sort_key_bounds(f, sort))
    query = sa.select(*columns).where(*conditions).order_by(*trace_order(key, descending))
    if span.after is not None:
        query = query.where(*after_key(key, span.after, descending=descending))
    if span.through is not None:
        query = query.where(*through_key(key, span.through, descending=descending))
    return query


def iter_trace_rows(
    engine: sa.Engine,
    f: TraceFilter,
    columns: Columns,
    *,
    sort: SortKey = SortKey.START_TIME,
    descending: bool = True,
    chunk: int = EXPORT_CHUNK,
) -> Iterator[sa.Row[Any]]:
    """Every trace of the selection in the order of ``/api/traces``, one range at a
    time in this process: rows of ``columns``."""
    for span in trace_ranges(engine, f, sort=sort, descending=descending, chunk=chunk):
        with engine.connect() as connection:
            rows = trace_range_rows(connection, f, columns, span, sort=sort, descending=descending)
        yield from rows


def project_names(connection: sa.Connection) -> dict[int, str]:
    """Every project's name by id: an export row carries the id, and its line the name
    looked up here (a name per row, by subquery or join, cost the database more)."""
    return dict(connection.execute(sa.select(Project.id, Project.name)).all())


@dataclass(frozen=True, slots=True)
class SpanFilter:
    """Which spans to export; None means "any". Times in ns, bounds inclusive."""

    project: str | None = None
    trace_id: str | None = None
    kind: str | None = None
    model: str | None = None
    start_after_ns: int | None = None
    start_before_ns: int | None = None


@dataclass(frozen=True, slots=True)
class IdRange:
    """Spans with a row id after ``after`` and through ``through`` (None: no end)."""

    after: int
    through: int | None


def span_ranges(engine: sa.Engine, f: SpanFilter, *, ids: int = EXPORT_CHUNK) -> list[IdRange]:
    """The span table's row ids cut into windows of ``ids`` ids, the last one open.

    Windows of ids rather than of selected spans: cutting by selected spans would read
    the selection's keys first, and a span's row id is in no index but the table
    itself, so that pass would read every span twice. Ids are dense (spans are only
    deleted by retention), so an unfiltered window holds about ``ids`` spans and a
    filtered one fewer; each window is one range seek. One trace's spans are a window
    of their own: they are few and their ids need not be near each other."""
    return cut_span_ranges(engine_reader(engine), f, ids=ids)


def cut_span_ranges(read: Read, f: SpanFilter, *, ids: int = EXPORT_CHUNK) -> list[IdRange]:
    """:func:`span_ranges`, reading the ends with ``read``."""
    if f.trace_id is not None:
        return [IdRange(0, None)]
    # One aggregate per query: SQLite reads a lone min() or max() off the end of an
    # index, but both at once by scanning one.
    low_id, high_id = sa.select(sa.func.min(Span.id)), sa.select(sa.func.max(Span.id))
    if f.project is not None:  # a small project's ids, from (project_id, id)
        project = Span.project_id == _project_id(f.project)
        low_id, high_id = low_id.where(project), high_id.where(project)
    low, high = read(low_id)[0][0], read(high_id)[0][0]
    if low is None or high is None:
        return [IdRange(0, None)]
    edges = range(low - 1, high, ids)
    return [IdRange(a, a + ids) for a in edges[:-1]] + [IdRange(edges[-1], None)]


def span_range_query(f: SpanFilter, columns: Columns, span: IdRange) -> sa.Select[Any]:
    """One range of the spans export: keyset on the primary key, so it is a range seek,
    never a sort of the selection (``tests/test_schema.py`` checks the plan)."""
    conditions: list[sa.ColumnElement[bool]] = [Span.id > span.after]
    if span.through is not None:
        conditions.append(Span.id <= span.through)
    if f.project is not None:
        conditions.append(Span.project_id == _project_id(f.project))
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
        sa.select(*columns)
        .select_from(Span)
        .outerjoin(SpanCost, cost_of_span(Span))
        .where(*conditions)
        .order_by(Span.id)
    )


def iter_span_rows(
    engine: sa.Engine, f: SpanFilter, columns: Columns, *, ids: int = EXPORT_CHUNK
) -> Iterator[sa.Row[Any]]:
    """Every selected span in the order stored (by row id), one range at a time in
    this process: rows of ``columns`` (of ``Span`` and ``SpanCost``, or subqueries)."""
    for span in span_ranges(engine, f, ids=ids):
        with engine.connect() as connection:
            rows = connection.execute(span_range_query(f, columns, span)).all()
        yield from rows


def _project_id(name: str) -> sa.ScalarSelect[int]:
    return sa.select(Project.id).where(Project.name == name).scalar_subquery()


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
