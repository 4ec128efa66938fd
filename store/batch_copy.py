"""The SQLite writer's path for spans: a serialized batch copied in with INSERT ... SELECT.

A decode worker ships its rows as a serialized SQLite database (``store/batch.py``);
the writer deserializes it into a schema attached to its own connection and copies
each project's spans, their costs and their traces' rollups with statements compiled
once. ``store/write.py`` calls it within the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from store import dialect
from store.batch import (
    BATCH_SCHEMA,
    COST_COLUMNS,
    ROLLUP_COLUMNS,
    SPAN_COLUMNS,
    SPAN_INSERT_COLUMNS,
    SPAN_KEY,
    SpanBatch,
    batch_rows,
    batch_traces,
    copy_from_batch,
    cost_insert,
)
from store.models import Span, SpanCost, Trace

spans = Span.__table__
span_costs = SpanCost.__table__
traces = Trace.__table__


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once for sqlite3, run on the driver's connection.

    Executing a large Core statement through SQLAlchemy builds its cache key every time:
    ~100k instructions for an INSERT ... SELECT of 62 columns, per project per batch.
    """

    sql: str
    names: tuple[str, ...]  # the bound parameters, in order

    @classmethod
    def of(cls, statement: sa.Executable) -> _Compiled:
        compiled = statement.compile(dialect=sqlite_dialect.dialect())
        return cls(str(compiled), tuple(compiled.positiontup or ()))

    def run(self, driver: Any, params: dict[str, Any]) -> Any:
        return driver.execute(self.sql, [params[name] for name in self.names])


@dataclass(frozen=True)
class _CopyInserts:
    """The statements that copy an attached batch's project, its extent bound."""

    spans: _Compiled  # its spans, in the batch's order
    last_span: _Compiled  # the largest span row id
    costs_by_n: _Compiled  # their costs, each span's row id worked out from its ``n``
    costs_by_join: _Compiled  # their costs, each span found by its key
    partial_traces: _Compiled  # the batch's traces that have spans the batch does not hold
    rollups: _Compiled  # the batch's own rollups of its traces (store/rollup_rows.py)


@cache
def _copy_inserts() -> _CopyInserts:
    copy_spans = (
        dialect.insert_for("sqlite", spans)
        .from_select(list(SPAN_INSERT_COLUMNS), copy_from_batch(SPAN_COLUMNS))
        .on_conflict_do_nothing(index_elements=SPAN_KEY)
    )
    with_cost = batch_rows.c.cost_source.is_not(None)
    in_extent = batch_rows.c.n.between(sa.bindparam("first"), sa.bindparam("last"))
    by_n = (
        dialect.insert_for("sqlite", span_costs)
        .from_select(
            ["span_pk", *COST_COLUMNS],
            sa.select(
                sa.bindparam("offset", type_=sa.Integer) + batch_rows.c.n,
                *(batch_rows.c[name] for name in COST_COLUMNS),
            ).where(in_extent, with_cost),
        )
        .on_conflict_do_nothing(index_elements=["span_pk"])
    )
    by_join = cost_insert("sqlite", batch_rows, in_extent, with_cost)
    # A trace's stored spans are the batch's own when as many are stored as the batch
    # holds: every batch span is stored (the copy inserted them all).
    bt = batch_traces.c
    stored = (
        sa.select(sa.func.count())
        .where(
            spans.c.project_id == sa.bindparam("project_id", type_=sa.Integer),
            spans.c.trace_id == bt.trace_id,
        )
        .scalar_subquery()
    )
    in_trace_extent = bt.n.between(sa.bindparam("first"), sa.bindparam("last"))
    partial = sa.select(bt.trace_id).where(in_trace_extent, bt.span_count != stored)
    rollups = dialect.insert_for("sqlite", traces).from_select(
        ["project_id", "trace_id", *ROLLUP_COLUMNS],
        sa.select(
            sa.bindparam("project_id", type_=sa.Integer),
            bt.trace_id,
            *(bt[name] for name in ROLLUP_COLUMNS),
        ).where(in_trace_extent),
    )
    rollups = rollups.on_conflict_do_update(
        index_elements=["project_id", "trace_id"],
        set_={name: rollups.excluded[name] for name in ROLLUP_COLUMNS},
    )
    return _CopyInserts(
        _Compiled.of(copy_spans),
        _Compiled.of(sa.select(sa.func.max(spans.c.id))),
        _Compiled.of(by_n),
        _Compiled.of(by_join),
        _Compiled.of(partial),
        _Compiled.of(rollups),
    )


# SQLite numbers a new row one above the table's largest rowid, unless that is already
# the largest there can be (then it picks one at random).
_MAX_ROWID = 2**63 - 1


def copy_serialized(
    connection: Connection, batch: SpanBatch, project_ids: dict[str, int]
) -> dict[str, set[str]]:
    """Copy the batch's spans, their costs and their traces' rollups, project by
    project; returns the traces whose rollup must be recomputed, by project.

    The costs need their spans' row ids. When every span of the project went in (none
    was stored already), SQLite numbered them one after another in the batch's order,
    ending at the table's largest id, so a span's id is an offset plus its ``n``: the
    costs go in without looking a span up. Otherwise (a retried batch) each cost's span
    is found by its key; measured on demo traffic the look-up made the cost insert
    ~10k instructions per cost row.

    The batch's rollup of a trace (``store/rollup_rows.py``) is the trace's when every
    span of the project went in and the trace has no other stored span: recomputing it
    from the stored spans in SQL cost more than the spans' insert (bench/RESULTS.md).
    Any other trace is left to ``refresh_rollups``, which reads what is stored.
    """
    driver = connection.connection.driver_connection
    if driver is None or not hasattr(driver, "deserialize"):
        raise TypeError("serialized span batches need a sqlite3 connection")
    assert batch.sqlite is not None
    attached = {row[1] for row in driver.execute("PRAGMA database_list")}
    if BATCH_SCHEMA not in attached:
        driver.execute(f"ATTACH DATABASE ':memory:' AS {BATCH_SCHEMA}")
    driver.deserialize(batch.sqlite, name=BATCH_SCHEMA)
    inserts = _copy_inserts()
    recompute: dict[str, set[str]] = {}
    for name, (first, last) in batch.extents.items():  # nearly always one
        params = {"project_id": project_ids[name], "first": first, "last": last}
        inserted = inserts.spans.run(driver, params).rowcount
        whole = inserted == last - first + 1
        if whole:
            [(top,)] = inserts.last_span.run(driver, {}).fetchall()
        if whole and top < _MAX_ROWID:  # so no id was picked at random: consecutive
            inserts.costs_by_n.run(driver, {**params, "offset": top - last})
        else:
            inserts.costs_by_join.run(driver, params)
        extent = batch.trace_extents.get(name)
        if not whole or extent is None:
            recompute[name] = batch.trace_ids[name]
            continue
        params = {"project_id": project_ids[name], "first": extent[0], "last": extent[1]}
        partial = {trace_id for (trace_id,) in inserts.partial_traces.run(driver, params)}
        inserts.rollups.run(driver, params)  # those recomputed next are overwritten
        if partial:
            recompute[name] = partial
    return recompute
