"""Retention: delete the traces whose latest activity is older than a cutoff, with
every row that hangs off them, a bounded batch per transaction, while ingest goes on.

A trace's latest activity is its rollup's ``end_time_ns`` (the latest end of its
spans, by the client's clock). With the trace go its spans, their costs, its log
records, its scores (eval, human and agent ones) and its runaway flag. What records
what happened stays: eval runs and their summaries, alerts (they say what they were
about in their own title and figures), the audit log, datasets, suites.

Batches: one statement picks and deletes up to ``batch_traces`` trace rows (oldest
start first, so the existing start-time indexes serve the scan: a trace that ended
before the cutoff started before it) and returns their ids; the rows hanging off them
go in the same transaction. On SQLite that DELETE takes the write lock before anything
is read, so the batch is atomic against the span writer, which waits at most one
batch (busy timeout); a pause between batches lets it in, since SQLite's busy handler
retries on a timer and would otherwise lose the lock to the next batch. On PostgreSQL
the pick skips rows the writer holds (``FOR UPDATE SKIP LOCKED``) and the DELETE
re-checks the cutoff on a row updated meanwhile, so a trace a new span made recent
stays.

One race is left on PostgreSQL: a span of a trace being deleted that commits just
after the batch may re-create the trace's rollup from a snapshot that still saw the
deleted spans. Each batch therefore looks again at the previous batch's traces and
recomputes the rollup of any that came back (it is always derived from its spans).

Dashboard aggregates read the trace rollups and spans themselves (``store/analytics``),
so they stay right as both go together. Running it twice deletes nothing more.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from store import partitions
from store.models import LogRecord, Runaway, Score, Span, SpanCost, Trace
from store.rollup import refresh_rollups

BATCH_TRACES = 1000
# Between batches on SQLite: longer than the busy handler's 100 ms retry step, so a
# waiting span writer gets the lock before the next batch does.
SQLITE_PAUSE_S = 0.12
POSTGRESQL_PAUSE_S = 0.0

TraceKeys = dict[int, list[str]]  # project id -> trace ids


@dataclass(frozen=True, slots=True)
class Deleted:
    traces: int = 0
    spans: int = 0
    log_records: int = 0
    scores: int = 0
    batches: int = 0
    seconds: float = 0.0
    # False when ``keep_going`` stopped the run before it was done.
    finished: bool = True
    # On a partitioned store (store/partitions.py): partitions dropped whole (their
    # spans are counted in ``spans``), and the longest time one drop held ``spans``.
    partitions: int = 0
    partition_lock_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Planned:
    """What a run would delete now (a dry run): traces and their spans."""

    traces: int
    spans: int


KeepGoing = Callable[[Deleted], bool]  # asked after each batch; False stops the run


def expired(cutoff_ns: int, project_id: int | None) -> list[sa.ColumnElement[bool]]:
    """The traces a run deletes: every span of them ended before ``cutoff_ns``."""
    conditions = [Trace.start_time_ns < cutoff_ns, Trace.end_time_ns < cutoff_ns]
    if project_id is not None:
        conditions.append(Trace.project_id == project_id)
    return conditions


def plan(connection: sa.Connection, cutoff_ns: int, project_id: int | None = None) -> Planned:
    """Count what :func:`delete_before` would delete, deleting nothing."""
    traces, spans = connection.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Trace.span_count), 0)).where(
            *expired(cutoff_ns, project_id)
        )
    ).one()
    return Planned(int(traces), int(spans))


def delete_before(
    engine: sa.Engine,
    cutoff_ns: int,
    *,
    project_id: int | None = None,
    batch_traces: int = BATCH_TRACES,
    pause_s: float | None = None,
    keep_going: KeepGoing | None = None,
) -> Deleted:
    """Delete the traces that ended before ``cutoff_ns`` (in one project, or all).

    On a partitioned store (PostgreSQL, every project) the batches leave the spans of
    the partitions that ended by the cutoff, and those partitions are then dropped
    whole where no stored trace has a span in them (``partitions.drop_expired``); the
    spans of one that could not go are deleted by batches after all.
    """
    if batch_traces < 1:
        raise ValueError("batch_traces must be at least 1")
    if pause_s is None:
        pause_s = SQLITE_PAUSE_S if engine.dialect.name == "sqlite" else POSTGRESQL_PAUSE_S
    began = time.perf_counter()
    candidates: list[partitions.Partition] = []
    if project_id is None and engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            candidates = partitions.droppable(connection, cutoff_ns)
    left_to_drop = partitions.ranges_of(candidates)
    done = Deleted()
    previous: TraceKeys = {}
    while True:
        with engine.begin() as connection:
            batch = _delete_batch(
                connection, cutoff_ns, project_id, batch_traces, done, left_to_drop
            )
            # After this batch's work, so that a span racing the previous one has had
            # time to commit.
            _restore_returned(connection, previous)
        if batch is None:
            break
        previous, done = batch
        if keep_going is not None and not keep_going(done):
            with engine.begin() as connection:
                _restore_returned(connection, previous)
            return _timed(done, began, finished=False)
        if pause_s:
            time.sleep(pause_s)
    if candidates:
        dropped = partitions.drop_expired(engine, candidates)
        orphans = sum(partitions.delete_orphans(engine, kept) for kept in dropped.kept)
        done = dataclasses.replace(
            done,
            spans=done.spans + dropped.spans + orphans,
            partitions=len(dropped.partitions),
            partition_lock_s=dropped.locked_s,
        )
    return _timed(done, began, finished=True)


def _timed(done: Deleted, began: float, *, finished: bool) -> Deleted:
    return dataclasses.replace(done, seconds=time.perf_counter() - began, finished=finished)


def _delete_batch(
    connection: sa.Connection,
    cutoff_ns: int,
    project_id: int | None,
    batch_traces: int,
    done: Deleted,
    left_to_drop: Sequence[tuple[int, int]] = (),
) -> tuple[TraceKeys, Deleted] | None:
    """One batch in the caller's transaction: the traces it deleted and the new totals,
    or None when no trace is left to delete."""
    picked = (
        sa.select(Trace.id)
        .where(*expired(cutoff_ns, project_id))
        .order_by(Trace.start_time_ns)
        .limit(batch_traces)
    )
    if connection.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    rows = connection.execute(
        sa.delete(Trace)
        # The cutoff again: on PostgreSQL it is re-checked on a row a writer changed.
        .where(Trace.id.in_(picked.scalar_subquery()), Trace.end_time_ns < cutoff_ns)
        .returning(Trace.project_id, Trace.trace_id)
    ).all()
    if not rows:
        return None
    keys: TraceKeys = defaultdict(list)
    for project, trace_id in rows:
        keys[project].append(trace_id)
    spans = log_records = scores = 0
    for project, trace_ids in keys.items():
        counts = _delete_dependents(connection, project, trace_ids, left_to_drop)
        spans += counts[0]
        log_records += counts[1]
        scores += counts[2]
    return dict(keys), dataclasses.replace(
        done,
        traces=done.traces + len(rows),
        spans=done.spans + spans,
        log_records=done.log_records + log_records,
        scores=done.scores + scores,
        batches=done.batches + 1,
    )


def _delete_dependents(
    connection: sa.Connection,
    project_id: int,
    trace_ids: Sequence[str],
    left_to_drop: Sequence[tuple[int, int]] = (),
) -> tuple[int, int, int]:
    """Spans (with their costs), log records, scores and runaway flags of the traces;
    not the spans that started in ``left_to_drop`` (partitions dropped afterwards)."""
    of_spans = Span.project_id == project_id, Span.trace_id.in_(trace_ids)
    connection.execute(
        sa.delete(SpanCost).where(SpanCost.span_pk.in_(sa.select(Span.id).where(*of_spans)))
    )
    if left_to_drop:
        of_spans += (
            ~sa.or_(
                *(
                    sa.and_(Span.start_time_ns >= lower, Span.start_time_ns < upper)
                    for lower, upper in left_to_drop
                )
            ),
        )
    spans = connection.execute(sa.delete(Span).where(*of_spans)).rowcount
    logs = connection.execute(
        sa.delete(LogRecord).where(
            LogRecord.project_id == project_id, LogRecord.trace_id.in_(trace_ids)
        )
    ).rowcount
    scores = connection.execute(
        sa.delete(Score).where(Score.project_id == project_id, Score.trace_id.in_(trace_ids))
    ).rowcount
    connection.execute(
        sa.delete(Runaway).where(Runaway.project_id == project_id, Runaway.trace_id.in_(trace_ids))
    )
    return spans, logs, scores


def _restore_returned(connection: sa.Connection, keys: TraceKeys) -> None:
    """Recompute the rollup of a deleted trace a racing span brought back (PostgreSQL)."""
    if connection.dialect.name != "postgresql":
        return  # one writer at a time: a later span makes a whole new, right rollup
    for project, trace_ids in keys.items():
        back = connection.scalars(
            sa.select(Trace.trace_id).where(
                Trace.project_id == project, Trace.trace_id.in_(trace_ids)
            )
        ).all()
        if not back:
            continue
        refresh_rollups(connection, project, back)
        # A rollup whose spans all went (none came back after all) goes too.
        has_spans = sa.exists().where(
            Span.project_id == Trace.project_id, Span.trace_id == Trace.trace_id
        )
        connection.execute(
            sa.delete(Trace).where(
                Trace.project_id == project, Trace.trace_id.in_(back), ~has_spans
            )
        )
