"""The spans export: one row per span, the canonical columns a spreadsheet can use
(raw attributes, events and message lists stay in the JSON API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from store.exports import SpanFilter, iter_span_rows
from web.exports.csv_writer import csv_chunks, text_cell
from web.serialize import iso_time

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
    """Every selected span, in the order stored, as CSV chunks."""
    return csv_chunks(COLUMNS, _cells(iter_span_rows(engine, selection)))


def _cells(rows: Iterator[sa.Row[Any]]) -> Iterator[list[Any]]:
    t = text_cell
    # Positions in store.exports.SPAN_COLUMNS, after the row id.
    for r in rows:
        yield [
            t(r[1]), r[2], r[3], r[4], t(r[5]), r[6], t(r[7]),
            iso_time(r[8]), iso_time(r[9]), r[8], r[9], r[10] / 1e6,
            r[11], t(r[12]), t(r[13]), t(r[14]), t(r[15]), t(r[16]),
            r[17], r[18], r[19], r[20], r[21], r[22], r[23], t(r[24]), t(r[25]),
            t(r[26]), t(r[27]), t(r[28]), t(r[29]), t(r[30]), t(r[31]),
            t(r[32]), r[33], t(r[34]), t(r[35]),
        ]  # fmt: skip
