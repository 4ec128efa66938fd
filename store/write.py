"""Set-based, idempotent span writes: what the collector's writer runs per transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from store import dialect
from store.models import Span
from store.projects import ensure_projects
from store.rollup import refresh_rollups

spans = Span.__table__

SpanRow = dict[str, Any]
"""A row of ``spans`` keyed by column name; ``project_id`` is filled in here."""


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
    touched: dict[int, set[str]] = defaultdict(set)
    all_rows: list[SpanRow] = []
    for project, rows in groups:
        project_id = project_ids[project]
        trace_ids = touched[project_id]
        for row in rows:
            row["project_id"] = project_id
            trace_ids.add(row["trace_id"])
        all_rows.extend(rows)
    connection.execute(
        dialect.insert(connection, spans).on_conflict_do_nothing(
            index_elements=["project_id", "trace_id", "span_id"]
        ),
        all_rows,
    )
    for project_id, trace_ids in touched.items():
        refresh_rollups(connection, project_id, trace_ids)
    return len(all_rows)
