"""The spans export: one row per span, the canonical columns a spreadsheet can use
(raw attributes, events and message lists stay in the JSON API)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial

import sqlalchemy as sa

from store.exports import SpanFilter, span_ranges
from web.exports.csv_writer import header_bytes
from web.exports.export_process import SpansJob
from web.exports.export_worker import ExportWorker
from web.exports.span_rows import span_range_csv

COLUMNS: tuple[str, ...] = (
    "project", "trace_id", "span_id", "parent_span_id", "name", "kind", "service_name",
    "start_time", "end_time", "start_time_unix_nano", "end_time_unix_nano", "duration_ms",
    "status", "status_message", "error_type", "error_message", "model", "provider",
    "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "cost_source", "tool_name", "tool_arguments",
    "tool_result", "agent_name", "agent_version", "session_id", "user_id", "prompt_name",
    "prompt_version", "confidence", "input_text", "output_text",
)  # fmt: skip


def span_download(
    engine: sa.Engine, selection: SpanFilter, worker: ExportWorker | None
) -> Iterator[bytes] | AsyncIterator[bytes]:
    """``/api/spans.csv``'s body: by the export worker on SQLite, else the line writer
    (see ``traces.trace_download``)."""
    if worker is None:
        return span_csv(engine, selection)
    lines = partial(span_line_chunks, engine, selection)
    return worker.stream(header_bytes(COLUMNS), SpansJob(selection), lines)


def span_csv(engine: sa.Engine, selection: SpanFilter) -> Iterator[bytes]:
    """Every selected span, in the order stored, as CSV chunks, by the line writer
    (see ``traces.trace_csv``)."""
    yield header_bytes(COLUMNS)
    yield from span_line_chunks(engine, selection)


def span_line_chunks(engine: sa.Engine, selection: SpanFilter) -> Iterator[bytes]:
    """The records by the line writer (``span_rows``; see ``traces.trace_line_chunks``)."""
    with engine.connect() as connection:
        for span in span_ranges(engine, selection):
            if chunk := span_range_csv(connection, selection, span):
                yield chunk
