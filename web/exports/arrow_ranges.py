"""The traces and spans exports on SQLite: each range read as Arrow record batches
(``store/arrow_read.py``) and written a column at a time (``csv_arrow.py``), in the
export worker process (``export_process.py``). Everything here reads the store through
ADBC's SQLite, the range cuts too, never through Python's ``sqlite3``: two SQLite
libraries in one process drop each other's file locks (``store/arrow_read.py``).

The same ranges, transactions, rows and bytes as the line writers of ``trace_rows``
and ``span_rows`` (which PostgreSQL keeps), at a fraction of the CPU per row: SQLite
steps in C and Python handles a batch at a time. ``tests/test_csv_arrow.py`` holds the
two paths to the same bytes. A text search whose SQLite ``lower()`` is the server's own
Python function cannot run outside its connections, and keeps the line writer
(``store.exports.sqlite_portable``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from queue import Queue
from typing import Any

import sqlalchemy as sa
from adbc_driver_manager.dbapi import Connection

from store import arrow_read
from store.exports import (
    SpanFilter,
    cut_span_ranges,
    cut_trace_ranges,
    span_range_query,
    trace_range_query,
)
from store.queries import SortKey, TraceFilter
from web.exports import span_rows, trace_rows
from web.exports.csv_arrow import (
    Cells,
    boolean,
    integer,
    iso,
    lines_bytes,
    milliseconds,
    named,
    number,
    plain,
    quoted,
)

THREADS = 2  # ranges rendered at once (this VM has two cores)
PROJECT = "project_id"  # the column whose cells are the project's name (``named``)

# Each export's cells in its COLUMNS order: the selected column and how it is written,
# as the line writers write them.
TRACE_LAYOUT: tuple[tuple[str, Cells], ...] = (
    ("trace_id", plain), (PROJECT, plain), ("service_name", quoted), ("name", quoted),
    ("agent_name", quoted), ("agent_version", quoted), ("session_id", quoted),
    ("user_id", quoted), ("environment", quoted), ("root_span_id", plain),
    ("start_time_ns", iso), ("end_time_ns", iso), ("start_time_ns", integer),
    ("end_time_ns", integer), ("duration_ns", milliseconds), ("status", plain),
    ("outcome", plain), ("error_count", integer), ("span_count", integer),
    ("llm_call_count", integer), ("tool_call_count", integer), ("input_tokens", integer),
    ("output_tokens", integer), ("reasoning_tokens", integer), ("cache_read_tokens", integer),
    ("cache_write_tokens", integer), ("cost_usd", number), ("unpriced_count", integer),
    ("escalated", boolean), ("input", quoted), ("output", quoted),
)  # fmt: skip

SPAN_LAYOUT: tuple[tuple[str, Cells], ...] = (
    (PROJECT, plain), ("trace_id", plain), ("span_id", plain), ("parent_span_id", plain),
    ("name", quoted), ("kind", plain), ("service_name", quoted), ("start_time_ns", iso),
    ("end_time_ns", iso), ("start_time_ns", integer), ("end_time_ns", integer),
    ("duration_ns", milliseconds), ("status", plain), ("status_message", quoted),
    ("error_type", quoted), ("error_message", quoted), ("model", quoted),
    ("provider", quoted), ("input_tokens", integer), ("output_tokens", integer),
    ("reasoning_tokens", integer), ("cache_read_tokens", integer),
    ("cache_write_tokens", integer), ("cost_usd", number), ("cost_source", plain),
    ("tool_name", quoted), ("tool_arguments", quoted), ("tool_result", quoted),
    ("agent_name", quoted), ("agent_version", quoted), ("session_id", quoted),
    ("user_id", quoted), ("prompt_name", quoted), ("prompt_version", quoted),
    ("confidence", number), ("input_text", quoted), ("output_text", quoted),
)  # fmt: skip


def trace_chunks(database: str, f: TraceFilter, sort: SortKey, descending: bool) -> Iterator[bytes]:
    """The traces export's records as chunks (``traces.trace_csv``) of the SQLite file
    ``database``; the caller checked ``sqlite_portable``."""

    def queries(connection: Connection) -> Iterator[sa.Select[Any]]:
        read = partial(arrow_read.rows, connection)
        for span in cut_trace_ranges(read, f, sort=sort, descending=descending):
            yield trace_range_query(f, trace_rows.SELECTED, span, sort=sort, descending=descending)

    return _chunks(database, queries, TRACE_LAYOUT)


def span_chunks(database: str, f: SpanFilter) -> Iterator[bytes]:
    """The spans export's records as chunks (``spans.span_csv``)."""

    def queries(connection: Connection) -> Iterator[sa.Select[Any]]:
        for span in cut_span_ranges(partial(arrow_read.rows, connection), f):
            yield span_range_query(f, span_rows.SELECTED, span)

    return _chunks(database, queries, SPAN_LAYOUT)


def _chunks(
    database: str,
    queries: Callable[[Connection], Iterator[sa.Select[Any]]],
    layout: Sequence[tuple[str, Cells]],
) -> Iterator[bytes]:
    """Each range read in its own transaction, as the line writers read theirs
    (``traces.trace_line_chunks``), and written to bytes; ranges in order.

    Two ranges at a time, each on a thread and a connection of its own: SQLite's steps
    (~6 us a span row here, most of it the rows' overflow pages) and Arrow's kernels
    (~5 us) both run without the GIL, so the second core halves the wall-clock time. A
    third range waits, so memory holds at most three ranges' bytes. The ranges are cut
    on a third connection, as they are needed."""
    with ExitStack() as stack:
        free: Queue[Connection] = Queue()
        for _ in range(THREADS):
            free.put(stack.enter_context(arrow_read.connect(database)))
        keys = stack.enter_context(arrow_read.connect(database))
        pool = stack.enter_context(ThreadPoolExecutor(THREADS, "csv-export"))
        stack.callback(pool.shutdown, cancel_futures=True)  # a download given up

        def render(query: sa.Select[Any]) -> list[bytes]:
            connection = free.get()
            try:
                names = arrow_read.project_names(connection)
                cells = tuple((name, named(names) if name == PROJECT else write)
                              for name, write in layout)  # fmt: skip
                batches = arrow_read.record_batches(connection, query)
                rendered = [lines_bytes(batch, cells) for batch in batches]
                connection.commit()
                return rendered
            finally:
                free.put(connection)

        pending: deque[Future[list[bytes]]] = deque()
        for query in queries(keys):
            pending.append(pool.submit(render, query))
            if len(pending) > THREADS:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
