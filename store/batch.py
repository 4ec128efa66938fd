"""How a batch of span rows travels from a decode worker to the writer.

On SQLite the worker packs its rows into an in-memory SQLite database and ships the
serialized file (``sqlite3.Connection.serialize``). The writer deserializes it into a
schema attached to its connection and copies it with one ``INSERT ... SELECT``, which
runs entirely in SQLite's C code: no row is unpickled or bound in the server process,
and no per-row GIL hand-off slows the writer thread down. Measured on this project's
payloads: 107,000 rows/s for the INSERT ... SELECT against 37,000 for executemany.
On PostgreSQL rows travel as tuples and go through the driver's executemany.

A span's cost (``collector/costing.py``) travels in its row, ahead of its columns; the
writer copies the rows that have one into ``span_costs`` (``store/batch_copy.py``).

Evaluation results the agent sent with its spans or logs (``collector/agent_scores.py``)
travel beside the rows as :class:`AgentScore` records, on both databases: they are
rare, so the writer inserts them through SQLAlchemy Core, in the same transaction. So
do the prices that priced the rows (``store/pricing/``), a few per request.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import CreateTable

from store import dialect
from store.models import LogRecord, Span, SpanCost

# The schema name the writer's SQLite connections attach their batches under.
BATCH_SCHEMA = "batch"

# Every spans column but the row id and project_id (which the writer resolves from names).
SPAN_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in Span.__table__.columns if column.name not in ("id", "project_id")
)

# The columns the writer inserts into ``spans``, and the key a span already stored has.
SPAN_INSERT_COLUMNS: tuple[str, ...] = ("project_id", *SPAN_COLUMNS)
SPAN_KEY = ("project_id", "trace_id", "span_id")

# The span's ``span_costs`` values (its row id is not known before the writer inserts it).
COST_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in SpanCost.__table__.columns if column.name != "span_pk"
)

# A batch row carries its span's cost beside its columns: one row, one table and one
# ``executemany`` per batch in the decode worker. A separate cost table cost 8.6k
# instructions per span to pack, more than a third of what pricing added to a worker.
# The cost comes first: the writer reads it from rows whose text runs onto overflow
# pages, and a column after the text would be read through them (+3k instructions per
# span in the writer, measured).
ROW_COLUMNS: tuple[str, ...] = COST_COLUMNS + SPAN_COLUMNS
if len(set(ROW_COLUMNS)) != len(ROW_COLUMNS):
    raise RuntimeError(f"spans and span_costs share a column name: {ROW_COLUMNS}")

SpanRow = tuple[Any, ...]
"""A batch row: values in :data:`ROW_COLUMNS` order (a span's cost, then its columns)."""

CostValues = tuple[Any, ...]
"""A span's ``span_costs`` values, in :data:`COST_COLUMNS` order."""

NO_COST: CostValues = (None,) * len(COST_COLUMNS)
"""The cost values of a span that has nothing to say about cost: no ``span_costs`` row."""

CostRow = tuple[Any, ...]
"""A ``span_costs`` row on the tuple path: the span's trace_id and span_id (the writer
finds its row id by them), then :data:`COST_COLUMNS` values."""

# The ``traces`` columns of a trace's rollup worked out from the batch's own rows
# (``store/rollup_rows.py``), after its trace_id; ``store/rollup.py`` fills the same.
ROLLUP_COLUMNS: tuple[str, ...] = (
    "root_span_id", "name", "service_name", "agent_name", "agent_version", "session_id",
    "user_id", "environment", "start_time_ns", "end_time_ns", "duration_ns", "status",
    "error_count", "outcome", "escalated", "span_count", "llm_call_count", "tool_call_count",
    "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "unpriced_count", "input", "output",
)  # fmt: skip

TraceRow = tuple[Any, ...]
"""A trace's rollup from a batch's rows: trace_id, then :data:`ROLLUP_COLUMNS` values."""

LogRow = tuple[Any, ...]
"""A ``log_records`` row: values in :data:`LOG_COLUMNS` order."""

LOG_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in LogRecord.__table__.columns if column.name not in ("id", "project_id")
)


@dataclass(frozen=True, slots=True)
class AgentScore:
    """A ``scores`` row with source "agent": an evaluation result the agent sent itself.

    ``dedupe_key`` is a digest of the evaluation's content, so the same result sent
    again (an exporter's retry) is stored once; ``created_at`` is when the agent
    recorded it (the event's time), else when it arrived.
    """

    trace_id: str
    span_id: str | None
    evaluator: str
    metric: str
    value: float | None
    label: str | None
    passed: bool | None
    explanation: str | None
    details: dict[str, Any] | None
    dedupe_key: str
    created_at: datetime


ScoreGroups = list[tuple[str, list[AgentScore]]]
"""Agent scores by project name."""


@dataclass(slots=True)
class LogBatch:
    """The log records of one request, by project. Logs are few next to spans (a few
    content events per LLM call), so they travel as tuples on both databases."""

    groups: list[tuple[str, Sequence[LogRow]]] = field(default_factory=list)
    scores: ScoreGroups = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(rows) for _, rows in self.groups)


def _rows_table(metadata: sa.MetaData) -> sa.Table:
    # BLOB columns have no type affinity in SQLite, so every value keeps the type it
    # was bound with: declared TEXT would turn 0.1 + 0.2 into '0.3' (15 digits) on the
    # way through, and back into a different float in the spans table. ``n`` is the
    # rowid: rows go in project by project, so each project's rows are a range of it.
    return sa.Table(
        "rows",
        metadata,
        sa.Column("n", sa.Integer, primary_key=True),
        *(sa.Column(column, sa.LargeBinary) for column in ROW_COLUMNS),
    )


def _traces_table(metadata: sa.MetaData) -> sa.Table:
    # Untyped (BLOB) as the rows are; ``n`` numbers them project by project too.
    return sa.Table(
        "rollups",
        metadata,
        sa.Column("n", sa.Integer, primary_key=True),
        *(sa.Column(column, sa.LargeBinary) for column in ("trace_id", *ROLLUP_COLUMNS)),
    )


# As the writer sees them (attached), and as the worker creates them (its "main").
_batch_metadata = sa.MetaData(schema=BATCH_SCHEMA)
batch_rows = _rows_table(_batch_metadata)
batch_traces = _traces_table(_batch_metadata)
_worker_metadata = sa.MetaData()
_worker_rows = _rows_table(_worker_metadata)
_worker_traces = _traces_table(_worker_metadata)


# CPython's sqlite3 looks every None up through the adapter protocol, failing two
# attribute look-ups per NULL; a registered adapter answers at once. Rows of ~30 NULL
# columns bind 40% faster (11.5 -> 7.1 us per row). The adapter is a C method that
# returns None for None (an empty dict's ``get``), which spares a Python call per
# NULL: 0.6 us less per row of ~27 NULLs.
_bind_none: Callable[[None], None] = {}.get
sqlite3.register_adapter(type(None), _bind_none)


@dataclass(slots=True)
class SpanBatch:
    """The rows of one request: ``sqlite`` bytes, or ``groups`` of (project, span rows:
    :data:`SPAN_COLUMNS` values) and ``costs`` of (project, :data:`CostRow`)."""

    trace_ids: dict[str, set[str]] = field(default_factory=dict)
    # Each project's rows in ``sqlite``: (first, last) of the table's ``n``.
    extents: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Each project's trace rollups in ``sqlite``'s ``traces``, the same way.
    trace_extents: dict[str, tuple[int, int]] = field(default_factory=dict)
    groups: list[tuple[str, Sequence[SpanRow]]] = field(default_factory=list)
    costs: list[tuple[str, Sequence[CostRow]]] = field(default_factory=list)
    sqlite: bytes | None = None
    size: int = 0
    scores: ScoreGroups = field(default_factory=list)
    # The prices that priced these rows, by key (``Price.as_json()``): a few per request.
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)


_TRACE_ID = ROW_COLUMNS.index("trace_id")
_trace_id = itemgetter(_TRACE_ID)
_SPAN_ID = ROW_COLUMNS.index("span_id")
_COSTS_END = len(COST_COLUMNS)
_COST_SOURCE = ROW_COLUMNS.index("cost_source")


def make_batch(
    groups: Sequence[tuple[str, Sequence[SpanRow]]],
    *,
    sqlite: bool,
    scores: ScoreGroups | None = None,
    prices: dict[str, dict[str, Any]] | None = None,
    traces: Sequence[tuple[str, Sequence[TraceRow]]] = (),
) -> SpanBatch:
    """Package rows for the writer; ``sqlite`` packs them as a serialized database, with
    ``traces``, the rollups of their traces by project (``store/rollup_rows.py``)."""
    if len({project for project, _ in groups}) < len(groups):  # a project named twice
        merged: dict[str, list[SpanRow]] = {}
        for project, rows in groups:
            merged.setdefault(project, []).extend(rows)
        groups = list(merged.items())
    if len({project for project, _ in traces}) < len(traces):
        # One extent per project: a trace split over both lists has two partial rollups,
        # which the writer's span count turns down (it recomputes the trace).
        merged_traces: dict[str, list[TraceRow]] = {}
        for project, found in traces:
            merged_traces.setdefault(project, []).extend(found)
        traces = list(merged_traces.items())
    batch = SpanBatch(
        size=sum(len(rows) for _, rows in groups), scores=scores or [], prices=prices or {}
    )
    for project, rows in groups:
        batch.trace_ids.setdefault(project, set()).update(map(_trace_id, rows))
    if not sqlite:
        _split_costs(batch, groups)
        return batch
    _keep_freed_memory()
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(_create_sql(_worker_rows))
        connection.execute(_create_sql(_worker_traces))
        last = 0
        for project, rows in groups:
            if rows:
                connection.executemany(_insert_sql(_worker_rows), rows)
                batch.extents[project] = (last + 1, last + len(rows))
                last += len(rows)
        last = 0
        for project, found in traces:
            if found:
                connection.executemany(_insert_sql(_worker_traces), found)
                batch.trace_extents[project] = (last + 1, last + len(found))
                last += len(found)
        connection.commit()
        batch.sqlite = connection.serialize()
    finally:
        connection.close()
    return batch


def _split_costs(batch: SpanBatch, groups: Sequence[tuple[str, Sequence[SpanRow]]]) -> None:
    """The tuple path (PostgreSQL): span rows apart from cost rows, as the writer binds
    them; done here, in the decode worker, rather than in the writer's thread."""
    for project, rows in groups:
        batch.groups.append((project, [row[_COSTS_END:] for row in rows]))
        costs = [
            (row[_TRACE_ID], row[_SPAN_ID], *row[:_COSTS_END])
            for row in rows
            if row[_COST_SOURCE] is not None
        ]
        if costs:
            batch.costs.append((project, costs))


# Packing a batch allocates ~1.4 MB of SQLite pages and two ~1.3 MB buffers (the
# serialized file, then its bytes) per 500 spans, and frees them all. With glibc's
# default thresholds that much free memory at the top of the heap goes back to the
# system and is faulted in again by the next batch: ~850 page faults per batch, 4 µs
# of system time per span in a decode worker (bench/prepare_bench.py). Freeing one
# block that was mmapped raises glibc's mmap and trim thresholds to its size and twice
# that ("dynamic mmap threshold", mallopt(3)); then each batch reuses the memory the
# previous one freed (~55 faults per batch). bytes() asks for zeroed memory (calloc),
# so the block is never touched; under other allocators it is only allocated and freed.
_HEAP_HINT_BYTES = 16 << 20
_heap_hinted = False


def _keep_freed_memory() -> None:
    """Once per process: let the heap keep what a batch frees for the next batch."""
    global _heap_hinted
    if not _heap_hinted:
        _heap_hinted = True
        block = bytes(_HEAP_HINT_BYTES)
        del block


@cache
def _create_sql(table: sa.Table) -> str:
    return str(CreateTable(table).compile(dialect=sqlite_dialect.dialect()))


@cache
def _insert_sql(table: sa.Table) -> str:
    """Every column but ``n``, which SQLite numbers 1, 2, ... in a new table."""
    names = [column.name for column in table.columns if column.name != "n"]
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def copy_from_batch(columns: Sequence[str], *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """One project's rows of the attached batch, in order, ``columns`` of them after its
    id: bound parameters ``project_id`` and ``first``, ``last`` (its extent). The writer
    knows the ids already; a join on project names would look one up per row."""
    n = batch_rows.c.n
    return (
        sa.select(
            sa.bindparam("project_id", type_=sa.Integer), *(batch_rows.c[name] for name in columns)
        )
        .where(n.between(sa.bindparam("first"), sa.bindparam("last")), *where)
        .order_by(n)
    )


def cost_insert(
    dialect_name: str, source: sa.FromClause, *where: sa.ColumnElement[bool]
) -> sa.Executable:
    """Cost values (:data:`COST_COLUMNS`) from ``source``, each joined to its span
    for the span's row id: the spans are inserted first, in the same transaction. A cost
    already stored is kept, as its span is (a retried batch). The copy of a SQLite batch
    (``store/batch_copy.py``) and the tuples' VALUES list (``store/write.py``) both run it."""
    spans, span_costs = Span.__table__, SpanCost.__table__
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
