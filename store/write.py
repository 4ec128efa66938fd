"""Set-based, idempotent writes: what the collector's writer runs per transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from store import dialect
from store.batch import (
    LOG_COLUMNS,
    LogBatch,
    ScoreGroups,
    SpanBatch,
)
from store.batch_copy import copy_serialized
from store.models import LogRecord, PriceRecord, Score
from store.projects import ensure_projects
from store.rollup import refresh_rollups
from store.span_copy import copy_spans

log_records = LogRecord.__table__
scores = Score.__table__
_LOG_INSERT_COLUMNS = ("project_id", *LOG_COLUMNS)
_LOG_KEY = ("project_id", "record_hash")


@cache
def _tuple_insert(
    connection_dialect: Dialect, table: sa.Table, columns: tuple[str, ...], key: tuple[str, ...]
) -> tuple[str, bool]:
    """The compiled INSERT ... ON CONFLICT DO NOTHING, and whether it is positional.

    Rows are bound as they come from the decode workers (JSON columns already text),
    through the driver: no per-value type processing in the writer thread.
    """
    statement = dialect.insert_for(connection_dialect.name, table).on_conflict_do_nothing(
        index_elements=list(key)
    )
    # for_executemany: a single-row compile would end in RETURNING id, and every id
    # would come back from PostgreSQL only to be dropped.
    compiled = statement.compile(
        dialect=connection_dialect, column_keys=list(columns), for_executemany=True
    )
    if compiled.positional and tuple(compiled.positiontup or ()) != columns:
        raise RuntimeError("compiled INSERT parameters are not in column order")
    return str(compiled), bool(compiled.positional)


def write_spans(connection: Connection, batches: Sequence[SpanBatch]) -> int:
    """Insert spans (skipping ones already stored) and refresh their traces' rollups.

    Runs in the caller's transaction: the caller commits, so spans and rollups become
    visible together and a failure leaves neither. Safe to call again with the same
    batches (a retry after a rollback). Returns the number of rows offered.
    """
    touched: dict[str, set[str]] = {}
    for batch in batches:
        for project, trace_ids in batch.trace_ids.items():
            touched.setdefault(project, set()).update(trace_ids)
    if not touched:
        return 0
    project_ids = ensure_projects(connection, touched)
    # The traces whose rollup is recomputed from their stored spans: all of them, but
    # those the SQLite path stored from the batch's own rollups.
    recompute: dict[str, set[str]] = {}
    for batch in batches:
        left = batch.trace_ids
        if batch.sqlite is not None:
            left = copy_serialized(connection, batch, project_ids)
        elif batch.groups:
            copy_spans(connection, project_ids, batch.groups, batch.costs)
        for project, trace_ids in left.items():
            recompute.setdefault(project, set()).update(trace_ids)
    write_prices(connection, {key: p for batch in batches for key, p in batch.prices.items()})
    for project, trace_ids in recompute.items():
        refresh_rollups(connection, project_ids[project], trace_ids)
    write_agent_scores(connection, project_ids, [batch.scores for batch in batches])
    return sum(batch.size for batch in batches)


def write_prices(connection: Connection, prices: dict[str, dict[str, Any]]) -> None:
    """Keep each price that priced a span; one already kept is left as it is (a key is a
    digest of the content, so the two are the same)."""
    if not prices:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "key": key,
            "source": price["source"],
            "version": price["version"],
            "provider": price["provider"],
            "model": price["model"],
            "definition": price,
            "created_at": now,
        }
        for key, price in sorted(prices.items())
    ]
    connection.execute(_price_insert(connection.dialect.name), rows)


@cache
def _price_insert(dialect_name: str) -> sa.Executable:
    return dialect.insert_for(dialect_name, PriceRecord.__table__).on_conflict_do_nothing(
        index_elements=["key"]
    )


def write_logs(connection: Connection, batches: Sequence[LogBatch]) -> int:
    """Insert log records, skipping ones already stored (same project and digest).

    Nothing is joined or copied onto spans here: reads attach records to their span
    (``store/logs.py``), so it does not matter which of the two arrives first.
    """
    projects = {project for batch in batches for project, rows in batch.groups if rows}
    if not projects:
        return 0
    project_ids = ensure_projects(connection, projects)
    groups = [group for batch in batches for group in batch.groups]
    _execute_tuples(connection, log_records, _LOG_INSERT_COLUMNS, _LOG_KEY, project_ids, groups)
    write_agent_scores(connection, project_ids, [batch.scores for batch in batches])
    return sum(batch.size for batch in batches)


def write_agent_scores(
    connection: Connection, project_ids: dict[str, int], batches: Sequence[ScoreGroups]
) -> int:
    """Insert the evaluation results agents sent, skipping ones already stored.

    Called with the spans or log records they came with, in the same transaction, so
    an acknowledged request has its scores too. The unique (project_id, dedupe_key)
    index turns a retransmitted result into a no-op. Scores are rare next to spans, so
    they go through Core (type processing for ``details`` and ``created_at``). Returns
    the number of rows offered.
    """
    rows = [
        {
            "project_id": project_ids[project],
            "run_id": None,
            "source": "agent",
            "trace_id": score.trace_id,
            "span_id": score.span_id,
            "evaluator": score.evaluator,
            "metric": score.metric,
            "value": score.value,
            "label": score.label,
            "passed": score.passed,
            "explanation": score.explanation,
            "details": score.details,
            "dedupe_key": score.dedupe_key,
            "created_at": score.created_at,
        }
        for groups in batches
        for project, found in groups
        for score in found
    ]
    if rows:
        connection.execute(_score_insert(connection.dialect.name), rows)
    return len(rows)


@cache
def _score_insert(dialect_name: str) -> sa.Executable:
    return dialect.insert_for(dialect_name, scores).on_conflict_do_nothing(
        index_elements=["project_id", "dedupe_key"],
        # The unique index is partial; naming its condition lets the database use it.
        index_where=scores.c.dedupe_key.isnot(None),
    )


def _execute_tuples(
    connection: Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    project_ids: dict[str, int],
    groups: Sequence[tuple[str, Sequence[tuple[Any, ...]]]],
) -> None:
    sql, positional = _tuple_insert(connection.dialect, table, columns, key)
    params: list[Any] = []
    for project, rows in groups:
        project_id = project_ids[project]
        if positional:
            params += [(project_id, *row) for row in rows]
        else:
            params += [dict(zip(columns, (project_id, *row), strict=True)) for row in rows]
    if params:
        connection.exec_driver_sql(sql, params)
