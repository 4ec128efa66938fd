"""The spans export: one row per span, the canonical columns a spreadsheet can use
(raw attributes, events and message lists stay in the JSON API)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from store.exports import SpanFilter, span_ranges
from web.exports.csv_writer import header_bytes
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


def span_csv(engine: sa.Engine, selection: SpanFilter) -> Iterator[bytes]:
    """Every selected span, in the order stored, as CSV chunks (see ``traces.trace_csv``)."""
    yield header_bytes(COLUMNS)
    chunks = None
    if engine.dialect.name == "sqlite":
        from web.exports import arrow_ranges  # pyarrow: at the first export (__init__.py)

        chunks = arrow_ranges.span_chunks(engine, selection)
    yield from chunks if chunks is not None else span_line_chunks(engine, selection)


def span_line_chunks(engine: sa.Engine, selection: SpanFilter) -> Iterator[bytes]:
    """The records by the line writer (``span_rows``; see ``traces.trace_line_chunks``)."""
    with engine.connect() as connection:
        for span in span_ranges(engine, selection):
            if chunk := span_range_csv(connection, selection, span):
                yield chunk
