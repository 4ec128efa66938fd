"""The traces export: the trace object of ``/api/traces`` (``web.schemas.TraceOut``),
its fields in their documented order, one row per trace of the selection."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from store.exports import trace_ranges
from web.exports.csv_writer import header_bytes
from web.exports.pool import ExportPool, render_ranges
from web.exports.trace_rows import trace_range_csv
from web.filters import TraceSelection
from web.schemas import TraceOut

COLUMNS: tuple[str, ...] = tuple(TraceOut.model_fields)


def trace_csv(
    engine: sa.Engine, selection: TraceSelection, pool: ExportPool | None = None
) -> Iterator[bytes]:
    """Every trace of the selection, in the order of ``/api/traces``, as CSV chunks:
    its ranges rendered by the pool's workers, or here without one."""
    yield header_bytes(COLUMNS)
    f, sort, descending = selection.filter, selection.sort, selection.descending
    ranges = trace_ranges(engine, f, sort=sort, descending=descending)
    tasks = ((f, sort, descending, span) for span in ranges)
    yield from render_ranges(engine, trace_range_csv, tasks, pool)
