"""How a batch of span rows travels from a decode worker to the writer.

On SQLite the worker packs its rows into an in-memory SQLite database and ships the
serialized file (``sqlite3.Connection.serialize``). The writer deserializes it into a
schema attached to its connection and copies it with one ``INSERT ... SELECT``, which
runs entirely in SQLite's C code: no row is unpickled or bound in the server process,
and no per-row GIL hand-off slows the writer thread down. Measured on this project's
payloads: 107,000 rows/s for the INSERT ... SELECT against 37,000 for executemany.
On PostgreSQL rows travel as tuples and go through the driver's executemany.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateTable

from store.models import Project, Span

# The schema name the writer's SQLite connections attach their batches under.
BATCH_SCHEMA = "batch"

SpanRow = tuple[Any, ...]
"""A ``spans`` row: values in :data:`SPAN_COLUMNS` order."""

# Every column but the row id and project_id (which the writer resolves from names).
SPAN_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in Span.__table__.columns if column.name not in ("id", "project_id")
)


def _rows_table(metadata: sa.MetaData) -> sa.Table:
    # Declared types do not matter to SQLite; values keep the types they were bound with.
    return sa.Table(
        "rows",
        metadata,
        sa.Column("project", sa.Text),
        *(sa.Column(name, sa.Text) for name in SPAN_COLUMNS),
    )


# As the writer sees it (attached), and as the worker creates it (its "main").
batch_rows = _rows_table(sa.MetaData(schema=BATCH_SCHEMA))
_worker_rows = _rows_table(sa.MetaData())


def _bind_none(value: None) -> None:
    return None


# CPython's sqlite3 looks every None up through the adapter protocol, failing two
# attribute look-ups per NULL; a registered adapter answers at once. Rows of ~30 NULL
# columns bind 40% faster (11.5 -> 7.1 us per row).
sqlite3.register_adapter(type(None), _bind_none)


@dataclass(slots=True)
class SpanBatch:
    """The rows of one request: ``sqlite`` bytes or ``groups`` of (project, rows)."""

    trace_ids: dict[str, set[str]] = field(default_factory=dict)
    groups: list[tuple[str, Sequence[SpanRow]]] = field(default_factory=list)
    sqlite: bytes | None = None
    size: int = 0


_TRACE_ID = SPAN_COLUMNS.index("trace_id")


def make_batch(groups: Sequence[tuple[str, Sequence[SpanRow]]], *, sqlite: bool) -> SpanBatch:
    """Package rows for the writer; ``sqlite`` packs them as a serialized database."""
    batch = SpanBatch(size=sum(len(rows) for _, rows in groups))
    for project, rows in groups:
        batch.trace_ids.setdefault(project, set()).update(row[_TRACE_ID] for row in rows)
    if not sqlite:
        batch.groups = list(groups)
        return batch
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(_create_sql())
        connection.executemany(
            _insert_sql(), [(project, *row) for project, rows in groups for row in rows]
        )
        connection.commit()
        batch.sqlite = connection.serialize()
    finally:
        connection.close()
    return batch


@cache
def _create_sql() -> str:
    return str(CreateTable(_worker_rows).compile(dialect=sqlite_dialect.dialect()))


@cache
def _insert_sql() -> str:
    return f"INSERT INTO rows VALUES ({', '.join('?' * len(batch_rows.columns))})"


def copy_from_batch() -> sa.Select[Any]:
    """The rows of the attached batch with project names resolved to ids."""
    projects = Project.__table__
    return (
        sa.select(projects.c.id, *(batch_rows.c[name] for name in SPAN_COLUMNS))
        .join(projects, projects.c.name == batch_rows.c.project)
        # SQLite's upsert grammar needs a WHERE before ON CONFLICT after a join.
        .where(sa.true())
    )
