"""Reading one trace for the trace page: light rows, clipped content, one full span.

``store.queries.get_trace`` loads every column of every span, which the JSON API needs.
The page does not: a 5,000-span trace with large attributes and growing message
histories is megabytes of JSON to parse just to draw bars. So the waterfall reads a
dozen short columns per span, the reasoning chain reads its texts clipped by the
database (``substr``, with ``length`` to say how much was left out), and only the span
whose panel is open is read whole, with its own log records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from store.logs import SpanLogs
from store.messages import render_input, render_output
from store.models import LogRecord, Project, Span, SpanCost, Trace
from store.models.span_cost import cost_of_span

# Names, models and error types are labels; a client may still send a megabyte of one.
LABEL_CHARS = 200


@dataclass(frozen=True, slots=True)
class Clipped:
    """The first characters of a stored text and the length of the whole."""

    text: str
    length: int

    @property
    def truncated(self) -> bool:
        return self.length > len(self.text)


@dataclass(frozen=True, slots=True)
class FoundTrace:
    trace: Trace
    project: str


@dataclass(frozen=True, slots=True)
class SpanLine:
    """What a waterfall row shows of a span."""

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    start_ns: int
    end_ns: int
    model: str | None
    tool_name: str | None
    agent_name: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    error_type: str | None


@dataclass(frozen=True, slots=True)
class SpanContent:
    """What the reasoning chain reads of a span: its line, usage and clipped texts.

    ``output_messages`` and ``input_message_count`` already include what the span's
    GenAI log events carried when its own attributes had no messages.
    """

    line: SpanLine
    agent_version: str | None
    cache_read_tokens: int | None
    reasoning_tokens: int | None
    confidence: float | None
    input_text: Clipped | None
    output_text: Clipped | None
    reasoning_text: Clipped | None
    tool_arguments: Clipped | None
    tool_result: Clipped | None
    error_message: Clipped | None
    output_messages: list[Any] | None
    input_message_count: int | None

    @property
    def span_id(self) -> str:
        return self.line.span_id

    @property
    def parent_span_id(self) -> str | None:
        return self.line.parent_span_id


def find_traces(session: Session, trace_id: str, project: str | None) -> list[FoundTrace]:
    """The trace in every project that has this id, or in the named project only."""
    query = (
        sa.select(Trace, Project.name)
        .join(Project, Project.id == Trace.project_id)
        .where(Trace.trace_id == trace_id)
        .order_by(Project.name)
    )
    if project is not None:
        query = query.where(Project.name == project)
    else:
        # The only index on trace_id is (project_id, trace_id): naming every project
        # lets it serve one lookup per project instead of a scan of all traces.
        query = query.where(Trace.project_id.in_(sa.select(Project.id)))
    return [FoundTrace(trace, name) for trace, name in session.execute(query).all()]


def _label(column: Any) -> Any:
    return sa.func.substr(column, 1, LABEL_CHARS).label(column.key)


_LINE_COLUMNS = (
    Span.span_id,
    Span.parent_span_id,
    _label(Span.name),
    Span.kind,
    Span.status,
    Span.start_time_ns,
    Span.end_time_ns,
    _label(Span.model),
    _label(Span.tool_name),
    _label(Span.agent_name),
    Span.input_tokens,
    Span.output_tokens,
    SpanCost.cost_usd,
    _label(Span.error_type),
)
# Spans with what they cost, when they have a cost.
_WITH_COST = sa.outerjoin(Span, SpanCost, cost_of_span(Span))


def _of_trace(project_id: int, trace_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return Span.project_id == project_id, Span.trace_id == trace_id


def span_lines(session: Session, project_id: int, trace_id: str) -> list[SpanLine]:
    """Every span of the trace in start order, as waterfall rows need them."""
    query = (
        sa.select(*_LINE_COLUMNS)
        .select_from(_WITH_COST)
        .where(*_of_trace(project_id, trace_id))
        .order_by(Span.start_time_ns, Span.span_id)
    )
    return [SpanLine(*row) for row in session.execute(query)]


def _message_count(session: Session) -> Any:
    """Length of the input message array, in this database's JSON dialect."""
    if session.get_bind().dialect.name == "postgresql":
        messages = sa.type_coerce(Span.input_messages, postgresql.JSONB)
        return sa.case(
            (sa.func.jsonb_typeof(messages) == "array", sa.func.jsonb_array_length(messages))
        )
    return sa.func.json_array_length(Span.input_messages)


_CONTENT_COLUMNS = (
    Span.agent_version,
    Span.cache_read_tokens,
    Span.reasoning_tokens,
    Span.confidence,
    Span.output_messages,
)
_CLIPPED_COLUMNS = (
    Span.input_text,
    Span.output_text,
    Span.reasoning_text,
    Span.tool_arguments,
    Span.tool_result,
    Span.error_message,
)


def span_contents(
    session: Session, project_id: int, trace_id: str, chars: int
) -> list[SpanContent]:
    """Every span of the trace in start order, texts clipped to ``chars`` characters."""
    clipped = [
        part
        for column in _CLIPPED_COLUMNS
        for part in (
            sa.func.substr(column, 1, chars).label(column.key),
            sa.func.length(column).label(f"{column.key}_length"),
        )
    ]
    query = (
        sa.select(
            *_LINE_COLUMNS,
            *_CONTENT_COLUMNS,
            _message_count(session).label("input_message_count"),
            *clipped,
        )
        .select_from(_WITH_COST)
        .where(*_of_trace(project_id, trace_id))
        .order_by(Span.start_time_ns, Span.span_id)
    )
    logged = _logged_messages(session, project_id, trace_id)
    contents = []
    for row in session.execute(query):
        line = SpanLine(*row[: len(_LINE_COLUMNS)])
        values = row._mapping
        texts = {
            column.key: None
            if values[column.key] is None
            else Clipped(values[column.key], values[f"{column.key}_length"])
            for column in _CLIPPED_COLUMNS
        }
        output_messages = values["output_messages"]
        count = values["input_message_count"]
        from_logs = logged.get(line.span_id)
        if from_logs is not None:  # as store.logs.span_content fills a span, clipped
            if output_messages is None:
                output_messages = from_logs.output_messages
            if count is None and from_logs.input_messages is not None:
                count = len(from_logs.input_messages)
            if texts["input_text"] is None:
                texts["input_text"] = _clip(render_input(from_logs.input_messages), chars)
            if texts["output_text"] is None:
                texts["output_text"] = _clip(render_output(output_messages), chars)
        contents.append(
            SpanContent(
                line=line,
                agent_version=values["agent_version"],
                cache_read_tokens=values["cache_read_tokens"],
                reasoning_tokens=values["reasoning_tokens"],
                confidence=values["confidence"],
                output_messages=output_messages,
                input_message_count=count,
                **texts,
            )
        )
    return contents


def _clip(text: str | None, chars: int) -> Clipped | None:
    return None if text is None else Clipped(text[:chars], len(text))


def _logged_messages(session: Session, project_id: int, trace_id: str) -> dict[str, SpanLogs]:
    """The messages the trace's GenAI log events carry, per span, in record order."""
    query = (
        sa.select(LogRecord.span_id, LogRecord.input_messages, LogRecord.output_messages)
        .where(
            LogRecord.project_id == project_id,
            LogRecord.trace_id == trace_id,
            LogRecord.span_id.is_not(None),
            sa.or_(LogRecord.input_messages.is_not(None), LogRecord.output_messages.is_not(None)),
        )
        .order_by(LogRecord.time_ns, LogRecord.id)
    )
    by_span: dict[str, SpanLogs] = {}
    for span_id, input_messages, output_messages in session.execute(query):
        logs = by_span.setdefault(span_id, SpanLogs())
        if input_messages:
            logs.input_messages = (logs.input_messages or []) + input_messages
        if output_messages:
            logs.output_messages = (logs.output_messages or []) + output_messages
    return by_span


def full_span(
    session: Session, project_id: int, trace_id: str, span_id: str
) -> tuple[Span, SpanLogs] | None:
    """One span with every column, and its log records (which fill its messages)."""
    span = session.scalars(
        sa.select(Span).where(*_of_trace(project_id, trace_id), Span.span_id == span_id)
    ).one_or_none()
    if span is None:
        return None
    logs = SpanLogs()
    for record in session.scalars(
        sa.select(LogRecord)
        .where(
            LogRecord.project_id == project_id,
            LogRecord.trace_id == trace_id,
            LogRecord.span_id == span_id,
        )
        .order_by(LogRecord.time_ns, LogRecord.id)
    ):
        logs.add(record)
    return span, logs


def trace_level_logs(session: Session, project_id: int, trace_id: str) -> Sequence[LogRecord]:
    """The trace's log records that name none of its stored spans."""
    stored = sa.exists().where(*_of_trace(project_id, trace_id), Span.span_id == LogRecord.span_id)
    return session.scalars(
        sa.select(LogRecord)
        .where(
            LogRecord.project_id == project_id,
            LogRecord.trace_id == trace_id,
            sa.or_(LogRecord.span_id.is_(None), ~stored),
        )
        .order_by(LogRecord.time_ns, LogRecord.id)
    ).all()
