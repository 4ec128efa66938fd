"""Set-based, idempotent writes: what the collector's writer runs per transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect

from store import dialect
from store.batch import (
    BATCH_SCHEMA,
    COST_COLUMNS,
    LOG_COLUMNS,
    ROLLUP_COLUMNS,
    SPAN_COLUMNS,
    LogBatch,
    ScoreGroups,
    SpanBatch,
    batch_rows,
    batch_traces,
    copy_from_batch,
)
from store.models import LogRecord, PriceRecord, Score, Span, SpanCost, Trace
from store.projects import ensure_projects
from store.rollup import refresh_rollups

spans = Span.__table__
span_costs = SpanCost.__table__
traces = Trace.__table__
log_records = LogRecord.__table__
scores = Score.__table__
_INSERT_COLUMNS = ("project_id", *SPAN_COLUMNS)
_KEY = ("project_id", "trace_id", "span_id")
_COST_ROWS_PER_STATEMENT = 2000  # PostgreSQL binds at most 65,535 values a statement
# The cost rows' columns as a VALUES list binds them: the span's ids, then the values
# typed as span_costs types them (JSON arrives serialized, as text).
_COST_SOURCE_COLUMNS = [
    sa.column("trace_id", sa.String),
    sa.column("span_id", sa.String),
    *(
        sa.column(name, sa.Text if name == "reported_details" else span_costs.c[name].type)
        for name in COST_COLUMNS
    ),
]
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
    # On PostgreSQL the spans' conflict names no index: a store partitioned by start time
    # (store/partitions.py) has its key with start_time_ns added, the others without.
    # Either way the only unique index a new span can hit is that key (ids are new).
    any_key = connection_dialect.name == "postgresql" and table is spans
    statement = dialect.insert_for(connection_dialect.name, table).on_conflict_do_nothing(
        index_elements=None if any_key else list(key)
    )
    # for_executemany: a single-row compile would end in RETURNING id, and every id
    # would come back from PostgreSQL only to be dropped.
    compiled = statement.compile(
        dialect=connection_dialect, column_keys=list(columns), for_executemany=True
    )
    if compiled.positional and tuple(compiled.positiontup or ()) != columns:
        raise RuntimeError("compiled INSERT parameters are not in column order")
    return str(compiled), bool(compiled.positional)


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
        .from_select(list(_INSERT_COLUMNS), copy_from_batch(SPAN_COLUMNS))
        .on_conflict_do_nothing(index_elements=_KEY)
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
    by_join = _cost_insert("sqlite", batch_rows, in_extent, with_cost)
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


def _cost_insert(
    dialect_name: str, source: sa.FromClause, *where: sa.ColumnElement[bool]
) -> sa.Executable:
    """Cost values (``store.batch.COST_COLUMNS``) from ``source``, each joined to its span
    for the span's row id: the spans are inserted first, in the same transaction. A cost
    already stored is kept, as its span is (a retried batch)."""
    s = spans.c
    values: list[sa.ColumnElement[Any]] = [source.c[name] for name in COST_COLUMNS]
    if dialect_name == "postgresql":  # a VALUES column of NULLs alone would be text
        values = [
            sa.cast(value, JSONB if name == "reported_details" else span_costs.c[name].type)
            for name, value in zip(COST_COLUMNS, values, strict=True)
        ]
    select = (
        sa.select(s.id, *values)
        .select_from(
            source.join(
                spans,
                sa.and_(
                    s.project_id == sa.bindparam("project_id", type_=sa.Integer),
                    s.trace_id == source.c.trace_id,
                    s.span_id == source.c.span_id,
                ),
            )
        )
        # SQLite's upsert grammar needs a WHERE before ON CONFLICT after a join.
        .where(*where or (sa.true(),))
    )
    return (
        dialect.insert_for(dialect_name, span_costs)
        .from_select(["span_pk", *COST_COLUMNS], select)
        .on_conflict_do_nothing(index_elements=["span_pk"])
    )


def _insert_cost_rows(
    connection: Connection, project_ids: dict[str, int], costs: Sequence[tuple[str, Any]]
) -> None:
    """The tuple path's costs (PostgreSQL): a VALUES list joined to the spans, in chunks."""
    for project, rows in costs:
        for start in range(0, len(rows), _COST_ROWS_PER_STATEMENT):
            chunk = rows[start : start + _COST_ROWS_PER_STATEMENT]
            source = sa.values(*_COST_SOURCE_COLUMNS, name="costs").data(list(chunk))
            insert = _cost_insert(connection.dialect.name, source)
            connection.execute(insert, {"project_id": project_ids[project]})


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
            left = _copy_serialized(connection, batch, project_ids)
        elif batch.groups:
            _insert_tuples(connection, project_ids, batch)
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


# SQLite numbers a new row one above the table's largest rowid, unless that is already
# the largest there can be (then it picks one at random).
_MAX_ROWID = 2**63 - 1


def _copy_serialized(
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


def _insert_tuples(connection: Connection, project_ids: dict[str, int], batch: SpanBatch) -> None:
    _execute_tuples(connection, spans, _INSERT_COLUMNS, _KEY, project_ids, batch.groups)
    _insert_cost_rows(connection, project_ids, batch.costs)


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
