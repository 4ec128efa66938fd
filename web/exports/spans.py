"""The spans export: one row per span, the canonical columns a spreadsheet can use
(raw attributes, events and message lists stay in the JSON API)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from store.exports import SpanFilter, iter_span_rows
from store.models import Project, Span, SpanCost
from web.exports.csv_writer import iso, line_chunks, number, quoted

COLUMNS: tuple[str, ...] = (
    "project", "trace_id", "span_id", "parent_span_id", "name", "kind", "service_name",
    "start_time", "end_time", "start_time_unix_nano", "end_time_unix_nano", "duration_ms",
    "status", "status_message", "error_type", "error_message", "model", "provider",
    "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "cost_source", "tool_name", "tool_arguments",
    "tool_result", "agent_name", "agent_version", "session_id", "user_id", "prompt_name",
    "prompt_version", "confidence", "input_text", "output_text",
)  # fmt: skip
# The project's name by a subquery, not a join: a join let SQLite loop over projects
# and read every span of each through an index, then sort, for every chunk.
_PROJECT = sa.select(Project.name).where(Project.id == Span.project_id).scalar_subquery()
SELECTED = (
    _PROJECT, Span.trace_id, Span.span_id, Span.parent_span_id, Span.name, Span.kind,
    Span.service_name, Span.start_time_ns, Span.end_time_ns, Span.duration_ns, Span.status,
    Span.status_message, Span.error_type, Span.error_message, Span.model, Span.provider,
    Span.input_tokens, Span.output_tokens, Span.reasoning_tokens, Span.cache_read_tokens,
    Span.cache_write_tokens, SpanCost.cost_usd, SpanCost.cost_source, Span.tool_name,
    Span.tool_arguments, Span.tool_result, Span.agent_name, Span.agent_version,
    Span.session_id, Span.user_id, Span.prompt_name, Span.prompt_version, Span.confidence,
    Span.input_text, Span.output_text,
)  # fmt: skip


def span_csv(engine: sa.Engine, selection: SpanFilter) -> Iterator[bytes]:
    """Every selected span, in the order stored, as CSV chunks."""
    return line_chunks(COLUMNS, _lines(iter_span_rows(engine, selection, SELECTED)))


def _int(value: int | None) -> str | int:
    return "" if value is None else value


def _lines(rows: Iterable[sa.Row[Any]]) -> Iterator[str]:
    """One line per row in :data:`COLUMNS` order (see ``web.exports.traces._lines``)."""
    q, n = quoted, _int
    for row in rows:
        (project, trace_id, span_id, parent, name, kind, service, start, end, duration, status,
         status_message, error_type, error_message, model, provider, tokens_in, tokens_out,
         reasoning, cache_read, cache_write, cost, cost_source, tool, arguments, result, agent,
         version, session, user, prompt, prompt_version, confidence, input_text,
         output_text) = row[:35]  # fmt: skip
        yield (
            f"{q(project)},{trace_id},{span_id},{parent or ''},{q(name)},{kind},{q(service)},"
            f"{iso(start)},{iso(end)},{start},{end},{duration / 1e6!r},{status},"
            f"{q(status_message)},{q(error_type)},{q(error_message)},{q(model)},{q(provider)},"
            f"{n(tokens_in)},{n(tokens_out)},{n(reasoning)},{n(cache_read)},{n(cache_write)},"
            f"{number(cost)},{cost_source or ''},{q(tool)},{q(arguments)},{q(result)},"
            f"{q(agent)},{q(version)},{q(session)},{q(user)},{q(prompt)},{q(prompt_version)},"
            f"{number(confidence)},{q(input_text)},{q(output_text)}"
        )
