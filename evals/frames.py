"""The runner's view of the store: a selection's traces and spans as pandas DataFrames,
one bounded chunk at a time.

The selection's trace row ids are read first (8 bytes a trace), then each chunk's
traces and spans by id, so memory is one chunk's rows whatever the selection's size,
and the progress bar knows its total. Span columns are read only if an evaluator of
the suite asked for them: message text is most of a span's bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from store.models import LogRecord, Span, SpanCost, Trace
from store.models.span_cost import cost_of_span
from store.queries import TraceFilter, filter_conditions
from store.types import to_json

# Every chunk has these; evaluators name any other span column they read.
TRACE_COLUMNS = (
    "trace_id",
    "root_span_id",
    "name",
    "agent_name",
    "agent_version",
    "session_id",
    "user_id",
    "start_time_ns",
    "duration_ns",
    "status",
    "outcome",
    "error_count",
    "escalated",
    "span_count",
    "llm_call_count",
    "tool_call_count",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "unpriced_count",
    "input",
    "output",
)
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time_ns",
    "duration_ns",
    "status",
    "tool_name",
    "model",
    "agent_name",
)
OPTIONAL_SPAN_COLUMNS = frozenset(
    {
        "end_time_ns",
        "error_type",
        "error_message",
        "status_message",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
        "input_text",
        "output_text",
        "system_instructions",
        "reasoning_text",
        "tool_call_id",
        "tool_arguments",
        "tool_result",
        "confidence",
        "confidence_source",
        "attributes",
        "events",
        "finish_reasons",
    }
)
LOG_COLUMNS = ("trace_id", "span_id", "event_name", "time_ns", "text")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Some traces of the selection, whole: every span of each trace is here.

    ``traces`` has one row per trace (``TRACE_COLUMNS``). ``spans`` has one row per span,
    sorted by trace then start time (``SPAN_COLUMNS`` and the optional ones asked for).
    ``logs`` holds the GenAI content events of these traces when an evaluator asked
    for them (``LOG_COLUMNS``; ``text`` is the event body as text), else it is empty.
    ``earlier`` holds the scores the suite's earlier evaluators gave these traces, by
    evaluator name (confident-but-wrong reads a correctness verdict).
    """

    project_id: int
    traces: pd.DataFrame
    spans: pd.DataFrame
    logs: pd.DataFrame
    earlier: dict[str, pd.DataFrame] = field(default_factory=dict)


def selected_ids(connection: sa.Connection, selection: TraceFilter) -> np.ndarray:
    """Row ids of the selected traces, oldest first."""
    rows = connection.execute(
        sa.select(Trace.id).where(*filter_conditions(selection)).order_by(Trace.start_time_ns)
    )
    return np.fromiter((row[0] for row in rows), dtype=np.int64)


def chunks(
    engine: sa.Engine,
    ids: np.ndarray,
    *,
    size: int,
    span_columns: Iterable[str] = (),
    logs: bool = False,
) -> Iterator[Chunk]:
    """The traces of ``ids`` in chunks of ``size``, each read in its own short transaction
    (a long read would hold back SQLite's checkpoints and PostgreSQL's vacuum)."""
    extra = sorted(set(span_columns) - set(SPAN_COLUMNS))
    unknown = set(extra) - OPTIONAL_SPAN_COLUMNS
    if unknown:
        raise ValueError(f"no span column {sorted(unknown)} for evaluators")
    for start in range(0, len(ids), size):
        part = [int(value) for value in ids[start : start + size]]
        with engine.connect() as connection:
            yield _chunk(connection, part, (*SPAN_COLUMNS, *extra), logs)


def _chunk(
    connection: sa.Connection, ids: list[int], span_columns: tuple[str, ...], logs: bool
) -> Chunk:
    trace_rows = connection.execute(
        sa.select(Trace.project_id, *(getattr(Trace, name) for name in TRACE_COLUMNS))
        .where(Trace.id.in_(ids))
        .order_by(Trace.start_time_ns, Trace.id)
    ).all()
    traces = _frame(trace_rows, ["project_id", *TRACE_COLUMNS])
    if traces.empty:
        return Chunk(0, traces, _empty(span_columns), _empty(LOG_COLUMNS))
    # A run's selection is one project's (Selection.project is required).
    project_id = int(traces["project_id"].iloc[0])
    traces = traces.drop(columns="project_id")
    trace_ids = traces["trace_id"].tolist()
    query = sa.select(
        *(SpanCost.cost_usd if name == "cost_usd" else getattr(Span, name) for name in span_columns)
    )
    if "cost_usd" in span_columns:  # derived data, in a table of its own
        query = query.select_from(sa.outerjoin(Span, SpanCost, cost_of_span(Span)))
    span_rows = connection.execute(
        query.where(Span.project_id == project_id, Span.trace_id.in_(trace_ids)).order_by(
            Span.trace_id, Span.start_time_ns, Span.span_id
        )
    ).all()
    spans = _frame(span_rows, list(span_columns))
    log_frame = _logs(connection, project_id, trace_ids) if logs else _empty(LOG_COLUMNS)
    return Chunk(project_id, traces, spans, log_frame)


def _logs(connection: sa.Connection, project_id: int, trace_ids: list[str]) -> pd.DataFrame:
    rows = connection.execute(
        sa.select(
            LogRecord.trace_id,
            LogRecord.span_id,
            LogRecord.event_name,
            LogRecord.time_ns,
            LogRecord.body,
        )
        .where(LogRecord.project_id == project_id, LogRecord.trace_id.in_(trace_ids))
        .order_by(LogRecord.trace_id, LogRecord.time_ns)
    ).all()
    records = [
        (trace_id, span_id, event, time_ns, body if isinstance(body, str) else to_json(body))
        for trace_id, span_id, event, time_ns, body in rows
        if body is not None
    ]
    return pd.DataFrame(records, columns=list(LOG_COLUMNS))


def _frame(rows: list[sa.Row[Any]], columns: list[str]) -> pd.DataFrame:
    """Rows as plain tuples first: pandas probes each row for namedtuple fields, and a
    SQLAlchemy Row answers that probe slowly (most of a chunk's load time)."""
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=columns)


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))
