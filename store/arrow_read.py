"""Long reads from SQLite as Arrow record batches, for the CSV exports' fast path.

Read through SQLAlchemy, every value of an export becomes a Python object that is then
written out again, ~25 us per span row. ADBC's SQLite driver steps the same statement
in C and fills Arrow buffers, so that the cells can be written a column at a time
(``web/exports/csv_arrow.py``) and Python only handles batches. SQLite only; on
PostgreSQL the exports read rows as before.

Only the export worker process imports this module (``web/exports/export_process.py``).
The driver links its own SQLite library, and POSIX file locks belong to a process:
when one SQLite library closes the database file, the locks the other holds on it are
dropped (https://www.sqlite.org/howtocorrupt.html 2.2.1). So the process that reads
through this module reads the store through nothing else, and the server never
imports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa
import sqlalchemy as sa
from adbc_driver_manager.dbapi import Connection
from sqlalchemy.dialects import sqlite

from store.models import Project

# Rows per record batch: a batch's cells are written as a few dozen whole-column
# operations, so more rows spread their fixed cost; a batch of span rows (~700 bytes
# each, a few copies while writing) stays a few MB.
BATCH_ROWS = 2048

_DIALECT = sqlite.dialect()


@contextmanager
def connect(database: str) -> Iterator[Connection]:
    """An ADBC connection to the SQLite file ``database``, read-only, for one export.
    Its transactions are explicit: end each with ``commit()``."""
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database has no file to read")
    with closing(adbc_sqlite.connect(database)) as connection, closing(connection.cursor()) as c:
        # As the server's own connections (store/engine.py): wait for a writer rather
        # than fail; never write; a small page cache (the driver's default, 2 MB).
        c.execute("PRAGMA busy_timeout=30000")
        c.execute("PRAGMA query_only=1")
        connection.commit()
        yield connection


def project_names(connection: Connection) -> dict[int, str]:
    """Every project's name by id (``store.exports.project_names``)."""
    with closing(connection.cursor()) as cursor:
        cursor.execute(str(sa.select(Project.id, Project.name).compile(dialect=_DIALECT)))
        return {id_: name for id_, name in cursor.fetchall()}


def rows(connection: Connection, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``query`` as tuples, in a transaction of their own: a
    ``store.exports.Read`` for the range cutters (a few thousand keys at a time)."""
    named = query.with_only_columns(
        *(column.label(f"c{n}") for n, column in enumerate(query.selected_columns)),
        maintain_column_froms=True,
    )
    found: list[tuple[Any, ...]] = []
    for batch in record_batches(connection, named):
        found += zip(*(column.to_pylist() for column in batch.columns), strict=True)
    connection.commit()
    return found


def record_batches(connection: Connection, query: sa.Select[Any]) -> Iterator[pa.RecordBatch]:
    """The rows of ``query`` as record batches of its selected columns (named as
    selected), in the transaction open on ``connection``.

    The driver guesses each column's type from the values of the first rows it reads,
    not from the declared types, and fails on a later value of another type
    (apache/arrow-adbc#581): a text column null in all the first rows is guessed an
    integer column, and its first text refused. So the statement reads one row of typed
    values before the query's rows (an empty string, 0 or 0.0 per column, by the
    column's declared type), and that row is dropped here.
    """
    columns = list(query.selected_columns)
    typed = sa.select(*(_typed_value(column).label(column.name) for column in columns))
    sql, parameters = _compile(sa.union_all(typed, sa.select(query.subquery())))
    with closing(connection.cursor()) as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
        cursor.execute(sql, parameters)
        first = True
        for batch in cursor.fetch_record_batch():
            if first:
                batch, first = batch.slice(1), False
            if batch.num_rows:
                yield batch


def _typed_value(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    kind = column.type
    if isinstance(kind, sa.Float):
        return sa.literal_column("0.0")
    if isinstance(kind, sa.Integer | sa.Boolean):
        return sa.literal_column("0")
    if isinstance(kind, sa.String):
        return sa.literal_column("''")
    raise TypeError(f"no typed value for column {column.name} of type {kind!r}")


def _compile(query: sa.Executable) -> tuple[str, Sequence[Any]]:
    """The SQL text and its positional parameters, as SQLite's driver would run it
    (``?`` placeholders; expanding IN lists rendered)."""
    compiled = query.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup or ()
    return str(compiled), tuple(compiled.params[name] for name in names)
