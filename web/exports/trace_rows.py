"""A range of the traces export rendered as CSV lines: what an export worker runs.

Kept apart from ``traces.py`` so that a worker imports the store and the line writer
only, not the API's schemas.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from store.exports import TraceRange, project_names, trace_range_rows
from store.models import Trace
from store.queries import SortKey, TraceFilter
from web.exports.csv_writer import iso, lines_bytes, number, quoted

SELECTED = (
    Trace.trace_id, Trace.project_id, Trace.service_name, Trace.name, Trace.agent_name,
    Trace.agent_version, Trace.session_id, Trace.user_id, Trace.environment,
    Trace.root_span_id, Trace.start_time_ns, Trace.end_time_ns, Trace.duration_ns,
    Trace.status, Trace.outcome, Trace.error_count, Trace.span_count, Trace.llm_call_count,
    Trace.tool_call_count, Trace.input_tokens, Trace.output_tokens, Trace.reasoning_tokens,
    Trace.cache_read_tokens, Trace.cache_write_tokens, Trace.cost_usd, Trace.unpriced_count,
    Trace.escalated, Trace.input, Trace.output,
)  # fmt: skip


def trace_range_csv(
    connection: sa.Connection, f: TraceFilter, sort: SortKey, descending: bool, span: TraceRange
) -> bytes:
    """The range's records, read in one transaction of their own (ended here: an open
    one would hold back SQLite's checkpoints and PostgreSQL's vacuum between ranges)."""
    with connection.begin():
        rows = trace_range_rows(connection, f, SELECTED, span, sort=sort, descending=descending)
        names = project_names(connection)
    return lines_bytes(trace_lines(rows, names))


def trace_lines(rows: Iterable[sa.Row[Any]], project_names: dict[int, str]) -> Iterator[str]:
    """One line per row, in ``traces.COLUMNS`` order, written out by hand: this runs
    100,000 times a second, where a loop over cells would cost as much as the query.
    Ids, statuses and integers are ours and never need quoting; text is quoted."""
    q = quoted
    projects = {id_: q(name) for id_, name in project_names.items()}
    for (trace_id, project, service, name, agent, version, session, user, environment, root,
         start, end, duration, status, outcome, errors, spans, llm_calls, tool_calls, tokens_in,
         tokens_out, reasoning, cache_read, cache_write, cost, unpriced, escalated, input_,
         output) in rows:  # fmt: skip
        yield (
            f"{trace_id},{projects[project]},{q(service)},{q(name)},{q(agent)},{q(version)},"
            f"{q(session)},{q(user)},{q(environment)},{root or ''},{iso(start)},{iso(end)},"
            f"{start},{end},{duration / 1e6!r},{status},{outcome or ''},{errors},{spans},"
            f"{llm_calls},{tool_calls},{tokens_in},{tokens_out},{reasoning},{cache_read},"
            f"{cache_write},{number(cost)},{unpriced},{'true' if escalated else 'false'},"
            f"{q(input_)},{q(output)}"
        )
