"""The tools that fail most in a window, with all their calls there: the overview's
failing-tools table, read from partial indexes of tool spans, never from span rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from store.analytics.figures import TOP, Condition, Window, ratio
from store.models import Span
from store.vocabulary import SpanKind, Status


@dataclass(frozen=True, slots=True)
class ToolStats:
    name: str | None
    calls: int
    errors: int

    @property
    def error_rate(self) -> float | None:
        return ratio(self.errors, self.calls)


def failing_tools(
    session: Session, project_id: int, window: Window, limit: int = TOP
) -> list[ToolStats]:
    """The tools with the most failed calls in the window (by the call's own start
    time), with all their calls there.

    The failures come from a partial index of failed tool calls by time (a short
    range); the calls of the ``limit`` worst tools from the tool-and-time index, one
    range each. Neither reads a span row.
    """
    errors = dict(session.execute(failed_calls_query(project_id, window, limit)).all())
    calls: dict[str | None, int] = {}
    if errors:
        counted = session.execute(tool_calls_query(project_id, window, list(errors)))
        calls.update(counted.all())
    return [ToolStats(name, calls.get(name, count), count) for name, count in errors.items()]


def _tool_calls_in(project_id: int, window: Window) -> list[Condition]:
    return [
        Span.project_id == project_id,
        Span.kind == SpanKind.TOOL.value,
        Span.start_time_ns >= window.since_ns,
        Span.start_time_ns <= window.until_ns,
    ]


def failed_calls_query(project_id: int, window: Window, limit: int) -> sa.Select[Any]:
    """(tool name, failed calls) for the ``limit`` tools that failed most."""
    return (
        sa.select(Span.tool_name, sa.func.count())
        .where(*_tool_calls_in(project_id, window), Span.status == Status.ERROR.value)
        .group_by(Span.tool_name)
        .order_by(sa.func.count().desc(), Span.tool_name)
        .limit(limit)
    )


def tool_calls_query(
    project_id: int, window: Window, names: Sequence[str | None]
) -> sa.Select[Any]:
    """(tool name, calls) for the named tools; None stands for tool calls that name no
    tool (rare: the normalizer takes the name from the span's when it can)."""
    named = [name for name in names if name is not None]
    which = [Span.tool_name.in_(named)] if named else []
    if None in names:
        which.append(Span.tool_name.is_(None))
    return (
        sa.select(Span.tool_name, sa.func.count())
        .where(*_tool_calls_in(project_id, window), sa.or_(*which))
        .group_by(Span.tool_name)
    )
