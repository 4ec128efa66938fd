"""The traces export: the trace object of ``/api/traces`` (``web.schemas.TraceOut``),
its fields in their documented order, one row per trace of the selection."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from store.exports import trace_ranges
from store.queries import SortKey, TraceFilter
from web.exports.csv_writer import header_bytes
from web.exports.trace_rows import trace_range_csv
from web.filters import TraceSelection
from web.schemas import TraceOut

COLUMNS: tuple[str, ...] = tuple(TraceOut.model_fields)


def trace_csv(engine: sa.Engine, selection: TraceSelection) -> Iterator[bytes]:
    """Every trace of the selection, in the order of ``/api/traces``, as CSV chunks:
    on SQLite, ranges read as Arrow batches and written a column at a time
    (``arrow_ranges``); else, or for what that path cannot read, by the line writer."""
    yield header_bytes(COLUMNS)
    f, sort, descending = selection.filter, selection.sort, selection.descending
    chunks = None
    if engine.dialect.name == "sqlite":
        from web.exports import arrow_ranges  # pyarrow: at the first export (__init__.py)

        chunks = arrow_ranges.trace_chunks(engine, f, sort, descending)
    yield from chunks if chunks is not None else trace_line_chunks(engine, f, sort, descending)


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
