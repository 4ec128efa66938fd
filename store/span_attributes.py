"""One raw attribute of many spans, extracted by the database.

A span's ``attributes`` JSON holds everything the client sent, message lists included
(kilobytes a span), so loading the column to read one short key would move and parse
all of it in Python. The database extracts the key instead and sends back only the
spans that have it: bytes per span, not kilobytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import Span


def attribute_problem(key: str) -> str | None:
    """Why ``key`` cannot be looked up, or None: SQLite's JSON paths cannot escape a quote."""
    if not key or '"' in key or "\\" in key:
        return "an attribute key is non-empty, without '\"' or '\\'"
    return None


def attribute_values(
    connection: Connection,
    project_id: int,
    trace_ids: Sequence[str],
    key: str,
    *,
    roots: bool | None = None,
) -> list[tuple[str, str, str]]:
    """``(trace_id, span_id, value as text)`` of the spans of ``trace_ids`` whose
    attributes have ``key``, each trace's spans by start time; ``roots`` True reads
    only spans without a parent, False only spans with one, None both."""
    problem = attribute_problem(key)
    if problem:
        raise ValueError(problem)
    if not trace_ids:
        return []
    value = _extract(connection.dialect.name, key)
    conditions = [Span.project_id == project_id, Span.trace_id.in_(list(trace_ids))]
    if roots is not None:
        # Before the extraction: SQLite tests the conditions in this order, so only the
        # wanted spans' attributes are parsed (roots of 10-span traces: half the time).
        parent = Span.parent_span_id
        conditions.append(parent.is_(None) if roots else parent.is_not(None))
    query = (
        sa.select(Span.trace_id, Span.span_id, value)
        .where(*conditions, value.is_not(None))
        .order_by(Span.trace_id, Span.start_time_ns, Span.span_id)
    )
    return [(trace_id, span_id, str(text)) for trace_id, span_id, text in connection.execute(query)]


def _extract(name: str, key: str) -> sa.ColumnElement[str]:
    match name:
        case "sqlite":
            # CAST: json_extract returns numbers as numbers; PostgreSQL's ->> returns text.
            path = f'$."{key}"'
            return sa.cast(sa.func.json_extract(Span.attributes, path), sa.Text)
        case "postgresql":
            return sa.func.jsonb_extract_path_text(Span.attributes, key, type_=sa.Text)
        case _:
            assert_never(name)  # type: ignore[arg-type]
