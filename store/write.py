"""Set-based, idempotent span writes: what the collector's writer runs per transaction.

Rows travel as tuples in :data:`SPAN_COLUMNS` order: built (and pickled) in the decode
workers, then handed to the driver's ``executemany`` as they are. The INSERT itself
is a SQLAlchemy expression compiled once per dialect; skipping SQLAlchemy's per-row
parameter processing halves the writer's CPU per span, and the writer is the one
part of ingest that cannot use the second core.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy.engine import Connection, Dialect

from store import dialect
from store.models import Span
from store.projects import ensure_projects
from store.rollup import refresh_rollups

spans = Span.__table__

# Every column but the row id and project_id (which the writer adds in front).
SPAN_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in spans.columns if column.name not in ("id", "project_id")
)
_INSERT_COLUMNS = ("project_id", *SPAN_COLUMNS)
_TRACE_ID = SPAN_COLUMNS.index("trace_id")

SpanRow = tuple[Any, ...]
"""A ``spans`` row: values in :data:`SPAN_COLUMNS` order."""


def span_row(values: Mapping[str, Any]) -> SpanRow:
    """Order a column -> value mapping as a row; a missing or extra column is an error."""
    if len(values) != len(SPAN_COLUMNS):
        raise ValueError(f"expected columns {sorted(SPAN_COLUMNS)}, got {sorted(values)}")
    return tuple(values[column] for column in SPAN_COLUMNS)


@cache
def _insert_sql(connection_dialect: Dialect) -> tuple[str, bool]:
    """The compiled INSERT ... ON CONFLICT DO NOTHING, and whether it is positional."""
    statement = dialect.insert_for(connection_dialect.name, spans).on_conflict_do_nothing(
        index_elements=["project_id", "trace_id", "span_id"]
    )
    compiled = statement.compile(dialect=connection_dialect, column_keys=list(_INSERT_COLUMNS))
    if compiled.positional and tuple(compiled.positiontup or ()) != _INSERT_COLUMNS:
        raise RuntimeError("compiled INSERT parameters are not in column order")
    return str(compiled), bool(compiled.positional)


def write_spans(connection: Connection, groups: Iterable[tuple[str, Sequence[SpanRow]]]) -> int:
    """Insert spans (skipping ones already stored) and refresh their traces' rollups.

    ``groups`` pairs a project name with its rows. Runs in the caller's transaction: the
    caller commits, so spans and rollups become visible together and a failure leaves
    neither. Safe to call again with the same rows (a retry after a rollback).
    Returns the number of rows offered.
    """
    groups = [(project, rows) for project, rows in groups if rows]
    if not groups:
        return 0
    project_ids = ensure_projects(connection, {project for project, _ in groups})
    sql, positional = _insert_sql(connection.dialect)
    touched: dict[int, set[str]] = defaultdict(set)
    params: list[Any] = []
    for project, rows in groups:
        project_id = project_ids[project]
        touched[project_id].update(row[_TRACE_ID] for row in rows)
        if positional:
            params += [(project_id, *row) for row in rows]
        else:
            params += [dict(zip(_INSERT_COLUMNS, (project_id, *row), strict=True)) for row in rows]
    connection.exec_driver_sql(sql, params)
    for project_id, trace_ids in touched.items():
        refresh_rollups(connection, project_id, trace_ids)
    return len(params)
