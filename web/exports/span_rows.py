"""A range of the spans export rendered as CSV lines: what an export worker runs
(apart from ``spans.py`` so a worker imports the store and the line writer only)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from store.exports import IdRange, SpanFilter, project_names, span_range_query
from store.models import Span, SpanCost
from web.exports.csv_writer import iso, lines_bytes, number, quoted

SELECTED = (
    Span.project_id, Span.trace_id, Span.span_id, Span.parent_span_id, Span.name, Span.kind,
    Span.service_name, Span.start_time_ns, Span.end_time_ns, Span.duration_ns, Span.status,
    Span.status_message, Span.error_type, Span.error_message, Span.model, Span.provider,
    Span.input_tokens, Span.output_tokens, Span.reasoning_tokens, Span.cache_read_tokens,
    Span.cache_write_tokens, SpanCost.cost_usd, SpanCost.cost_source, Span.tool_name,
    Span.tool_arguments, Span.tool_result, Span.agent_name, Span.agent_version,
    Span.session_id, Span.user_id, Span.prompt_name, Span.prompt_version, Span.confidence,
    Span.input_text, Span.output_text,
)  # fmt: skip


def span_range_csv(connection: sa.Connection, f: SpanFilter, span: IdRange) -> bytes:
    """The range's records, in one transaction of their own (see ``trace_range_csv``)."""
    with connection.begin():
        rows = connection.execute(span_range_query(f, SELECTED, span)).all()
        names = project_names(connection)
    return lines_bytes(span_lines(rows, names))


def _int(value: int | None) -> str | int:
    return "" if value is None else value


def span_lines(rows: Iterable[sa.Row[Any]], project_names: dict[int, str]) -> Iterator[str]:
    """One line per row in ``spans.COLUMNS`` order (see ``trace_rows.trace_lines``)."""
    q, n = quoted, _int
    projects = {id_: q(name) for id_, name in project_names.items()}
    for (project, trace_id, span_id, parent, name, kind, service, start, end, duration, status,
         status_message, error_type, error_message, model, provider, tokens_in, tokens_out,
         reasoning, cache_read, cache_write, cost, cost_source, tool, arguments, result, agent,
         version, session, user, prompt, prompt_version, confidence, input_text,
         output_text) in rows:  # fmt: skip
        yield (
            f"{projects[project]},{trace_id},{span_id},{parent or ''},{q(name)},{kind},"
            f"{q(service)},{iso(start)},{iso(end)},{start},{end},{duration / 1e6!r},{status},"
            f"{q(status_message)},{q(error_type)},{q(error_message)},{q(model)},{q(provider)},"
            f"{n(tokens_in)},{n(tokens_out)},{n(reasoning)},{n(cache_read)},{n(cache_write)},"
            f"{number(cost)},{cost_source or ''},{q(tool)},{q(arguments)},{q(result)},"
            f"{q(agent)},{q(version)},{q(session)},{q(user)},{q(prompt)},{q(prompt_version)},"
            f"{number(confidence)},{q(input_text)},{q(output_text)}"
        )
