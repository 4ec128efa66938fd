"""The traces export: the trace object of ``/api/traces`` (``web.schemas.TraceOut``),
its fields in their documented order, one row per trace of the selection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial

import sqlalchemy as sa

from store.exports import TraceRange, sqlite_portable, trace_range_query, trace_ranges
from store.queries import SortKey, TraceFilter
from web.exports.csv_writer import header_bytes
from web.exports.export_process import TracesJob
from web.exports.export_worker import ExportWorker
from web.exports.trace_rows import SELECTED, trace_range_csv
from web.filters import TraceSelection
from web.schemas import TraceOut

COLUMNS: tuple[str, ...] = tuple(TraceOut.model_fields)


def trace_download(
    engine: sa.Engine, selection: TraceSelection, worker: ExportWorker | None
) -> Iterator[bytes] | AsyncIterator[bytes]:
    """``/api/traces.csv``'s body: written by the export worker on SQLite (Arrow; see
    ``export_worker``), else by the line writer here (``trace_csv``). Same bytes."""
    f, sort, descending = selection.filter, selection.sort, selection.descending
    whole = trace_range_query(f, SELECTED, TraceRange(None, None), sort=sort, descending=descending)
    if worker is None or not sqlite_portable(whole):
        return trace_csv(engine, selection)
    lines = partial(trace_line_chunks, engine, f, sort, descending)
    return worker.stream(header_bytes(COLUMNS), TracesJob(f, sort, descending), lines)


def trace_csv(engine: sa.Engine, selection: TraceSelection) -> Iterator[bytes]:
    """Every trace of the selection, in the order of ``/api/traces``, as CSV chunks,
    written by the line writer (in this process; ``reasonlens export`` and PostgreSQL)."""
    yield header_bytes(COLUMNS)
    yield from trace_line_chunks(engine, selection.filter, selection.sort, selection.descending)


def trace_line_chunks(
    engine: sa.Engine, f: TraceFilter, sort: SortKey, descending: bool
) -> Iterator[bytes]:
    """The records, a range of traces at a time, each read in its own transaction on
    one connection (a connection per range would grow every pooled connection's page
    cache in turn), as lines written in Python (``trace_rows``)."""
    with engine.connect() as connection:
        for span in trace_ranges(engine, f, sort=sort, descending=descending):
            if chunk := trace_range_csv(connection, f, sort, descending, span):
                yield chunk  # never an empty one: it could read as the body's end
