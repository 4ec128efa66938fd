"""PostgreSQL: a batch's spans and costs loaded with COPY, then inserted from staging
tables.

Bound as an ``executemany``, each span was its own INSERT, its ~70 values adapted one
by one in the writer thread; and each batch's costs were a VALUES list of up to 2,000
rows that SQLAlchemy compiled anew every time (the larger part of the writer's time).
COPY streams the rows in one command each (psycopg writes them in C), and one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per table moves them on, skipping the
spans and costs already stored, as the inserts before did.

The staging tables are temporary tables of the connection, made on first use with the
types of the columns they stand in for; their names hold a digest of those columns, so
a process still running after a migration that changed them makes new ones rather
than COPY into the old. They are emptied before each load, in the writer's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from store.batch import COST_COLUMNS, SPAN_INSERT_COLUMNS, CostRow, SpanRow
from store.models import Span, SpanCost

_DIALECT = postgresql.dialect()
_SPAN_KEY = ("project_id", "trace_id", "span_id")


class _Stage:
    """A staging table for ``columns`` of ``tables`` (the first table that has each)."""

    def __init__(self, prefix: str, columns: Sequence[str], tables: Sequence[sa.Table]) -> None:
        typed = [next(t.c[name] for t in tables if name in t.c) for name in columns]
        names = ", ".join(columns)
        self.name = f"{prefix}_{hashlib.sha256(names.encode()).hexdigest()[:12]}"
        self.table = sa.table(self.name, *(sa.column(c.name, c.type) for c in typed))
        shape = sa.select(*typed).where(sa.false())
        self.create = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.name} AS "
            f"{shape.compile(dialect=_DIALECT, compile_kwargs={'literal_binds': True})}"
        )
        self.copy = f"COPY {self.name} ({names}) FROM STDIN"

    def load(self, cursor: Any, rows: Iterable[tuple[Any, ...]]) -> None:
        cursor.execute(self.create)
        cursor.execute(f"TRUNCATE {self.name}")
        with cursor.copy(self.copy) as copy:
            for row in rows:
                copy.write_row(row)


@cache
def _stages() -> tuple[_Stage, str, _Stage, str]:
    """The two staging tables and the statements that move their rows on."""
    spans, costs = Span.__table__, SpanCost.__table__
    span_stage = _Stage("span_stage", SPAN_INSERT_COLUMNS, [spans])
    staged = span_stage.table.c
    # No conflict target: on a store partitioned by start time the span key gains
    # start_time_ns (store/partitions.py); either way it is the one unique index a new
    # span can meet (row ids are new).
    insert_spans = (
        postgresql.insert(spans)
        .from_select(list(SPAN_INSERT_COLUMNS), sa.select(*staged))
        .on_conflict_do_nothing()
    )
    cost_stage = _Stage("cost_stage", (*_SPAN_KEY, *COST_COLUMNS), [spans, costs])
    c = cost_stage.table.c
    s = spans.c
    joined = cost_stage.table.join(spans, sa.and_(*(s[name] == c[name] for name in _SPAN_KEY)))
    insert_costs = (
        postgresql.insert(costs)
        .from_select(
            ["span_pk", *COST_COLUMNS],
            sa.select(s.id, *(c[name] for name in COST_COLUMNS)).select_from(joined),
        )
        .on_conflict_do_nothing(index_elements=["span_pk"])
    )
    return (
        span_stage,
        str(insert_spans.compile(dialect=_DIALECT)),
        cost_stage,
        str(insert_costs.compile(dialect=_DIALECT)),
    )


def copy_spans(
    connection: Connection,
    project_ids: dict[str, int],
    groups: Sequence[tuple[str, Sequence[SpanRow]]],
    costs: Sequence[tuple[str, Sequence[CostRow]]],
) -> None:
    """Insert the groups' span rows (``SPAN_INSERT_COLUMNS`` but the project) into
    ``spans``, then their costs into ``span_costs``, in the connection's transaction,
    skipping those already stored."""
    if not any(rows for _, rows in groups):
        return
    import psycopg  # here: a SQLite server never loads the PostgreSQL driver

    span_stage, insert_spans, cost_stage, insert_costs = _stages()
    driver: Any = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor:
            span_stage.load(
                cursor,
                ((project_ids[project], *row) for project, rows in groups for row in rows),
            )
            cursor.execute(insert_spans)
            if any(rows for _, rows in costs):
                cost_stage.load(
                    cursor,
                    ((project_ids[project], *row) for project, rows in costs for row in rows),
                )
                cursor.execute(insert_costs)
    except psycopg.Error as error:
        # As SQLAlchemy raises a driver's error: the writer retries a DataError (a NUL
        # character PostgreSQL refuses) with the characters replaced.
        raise sa.exc.DBAPIError.instance(
            "COPY", None, error, psycopg.Error, dialect=connection.dialect
        ) from error
