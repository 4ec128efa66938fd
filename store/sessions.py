"""Sessions (conversations): a project's traces grouped by their session id.

A session has no table of its own: it is the traces that share a ``session_id``, read
through ``ix_traces_project_id_session_id_start_time_ns``. The list is ordered by each
session's latest trace, newest first, and is computed without grouping every trace of
the project (which reads all of them on each page view): it walks the traces newest
first on ``ix_traces_project_time_filters``, keeps only the trace that is the latest
of its session (an anti-join, one seek on the session index per trace read), stops after
a page of them, and then aggregates just those sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from store.models import Trace
from store.queries import InvalidCursor, decode_cursor, encode_cursor
from store.vocabulary import Status


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One conversation. Who and which agent are those of its latest trace."""

    session_id: str
    user_id: str | None
    agent_name: str | None
    agent_version: str | None
    first_start_ns: int  # the first trace's start
    last_start_ns: int  # the latest trace's start: the list's order
    last_end_ns: int  # when the last trace to finish ended
    trace_count: int
    error_count: int  # traces with status error
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # null when no trace reported a cost: unknown is not $0


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[SessionSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SessionTraces:
    """One page of a session's traces, oldest first: the conversation turn by turn."""

    traces: Sequence[Trace]
    next_cursor: str | None
    first_turn: int  # the position of ``traces[0]`` in the session, from 1


def list_sessions(
    session: Session, project_id: int, *, limit: int = 50, cursor: str | None = None
) -> SessionPage:
    """The project's sessions, the most recently active first, ``limit`` at a time."""
    t, newer = Trace, aliased(Trace, name="newer")
    if cursor is None and not _has_sessions(session, project_id):
        # Otherwise the walk below would read every trace of a project without sessions.
        return SessionPage([], None)
    has_newer_turn = (
        sa.exists()
        .where(
            newer.project_id == t.project_id,
            newer.session_id == t.session_id,
            newer.start_time_ns >= t.start_time_ns,
            sa.or_(newer.start_time_ns > t.start_time_ns, newer.id > t.id),
        )
        .correlate(t)
    )
    query = sa.select(t.id, *_LATEST).where(
        t.project_id == project_id, t.session_id.is_not(None), ~has_newer_turn
    )
    if cursor is not None:
        start, last_id = _start_cursor(cursor)
        query = query.where(
            t.start_time_ns <= start, sa.or_(t.start_time_ns < start, t.id < last_id)
        )
    latest = session.execute(
        query.order_by(t.start_time_ns.desc(), t.id.desc()).limit(limit + 1)
    ).all()
    totals = _totals(session, project_id, [row.session_id for row in latest[:limit]])
    sessions = [_summary(row, totals[row.session_id]) for row in latest[:limit]]
    next_cursor = None
    if len(latest) > limit:
        last = latest[limit - 1]
        next_cursor = encode_cursor(last.start_time_ns, last.id)
    return SessionPage(sessions, next_cursor)


def session_summary(session: Session, project_id: int, session_id: str) -> SessionSummary | None:
    """One session's totals; None when no trace of the project carries this id."""
    latest = session.execute(
        sa.select(*_LATEST)
        .where(Trace.project_id == project_id, Trace.session_id == session_id)
        .order_by(Trace.start_time_ns.desc(), Trace.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    return _summary(latest, _totals(session, project_id, [session_id])[session_id])


def session_traces(
    session: Session,
    project_id: int,
    session_id: str,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> SessionTraces:
    """The session's traces in the order they started, ``limit`` at a time."""
    in_session = (Trace.project_id == project_id, Trace.session_id == session_id)
    query = sa.select(Trace).where(*in_session)
    first_turn = 1
    if cursor is not None:
        start, last_id = _start_cursor(cursor)
        after = (
            Trace.start_time_ns >= start,
            sa.or_(Trace.start_time_ns > start, Trace.id > last_id),
        )
        query = query.where(*after)
        # Counted on the session index; only later pages need it.
        before = sa.select(sa.func.count()).where(*in_session, ~sa.and_(*after))
        first_turn = int(session.scalar(before) or 0) + 1
    query = query.order_by(Trace.start_time_ns, Trace.id).limit(limit + 1)
    traces = session.scalars(query).all()
    next_cursor = None
    if len(traces) > limit:
        last = traces[limit - 1]
        next_cursor = encode_cursor(last.start_time_ns, last.id)
    return SessionTraces(traces[:limit], next_cursor, first_turn)


@dataclass(frozen=True, slots=True)
class _Totals:
    first_start_ns: int
    last_end_ns: int
    trace_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


# What a session shows of its latest trace.
_LATEST = (
    Trace.session_id,
    Trace.start_time_ns,
    Trace.user_id,
    Trace.agent_name,
    Trace.agent_version,
)


def _summary(latest: sa.Row[Any], totals: _Totals) -> SessionSummary:
    """``latest``: the ``_LATEST`` columns of the session's latest trace."""
    return SessionSummary(
        session_id=latest.session_id,
        user_id=latest.user_id,
        agent_name=latest.agent_name,
        agent_version=latest.agent_version,
        first_start_ns=totals.first_start_ns,
        last_start_ns=latest.start_time_ns,
        last_end_ns=totals.last_end_ns,
        trace_count=totals.trace_count,
        error_count=totals.error_count,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cost_usd=totals.cost_usd,
    )


def _totals(session: Session, project_id: int, session_ids: list[str]) -> dict[str, _Totals]:
    """Aggregates of the named sessions, read through the session index."""
    if not session_ids:
        return {}
    t = Trace
    failed = sa.case((t.status == Status.ERROR.value, 1), else_=0)
    query = (
        sa.select(
            t.session_id,
            sa.func.min(t.start_time_ns),
            sa.func.max(t.end_time_ns),
            sa.func.count(),
            sa.func.sum(failed),
            sa.func.sum(t.input_tokens),
            sa.func.sum(t.output_tokens),
            sa.func.sum(t.cost_usd),  # SUM skips nulls, and is null when all are
        )
        .where(t.project_id == project_id, t.session_id.in_(session_ids))
        .group_by(t.session_id)
    )
    return {
        session_id: _Totals(
            int(first), int(last), int(count), int(errors), int(tokens_in), int(tokens_out),
            None if cost is None else float(cost),
        )
        for session_id, first, last, count, errors, tokens_in, tokens_out, cost
        in session.execute(query)
    }  # fmt: skip


def _has_sessions(session: Session, project_id: int) -> bool:
    """One seek on the session index (as ``min``, which both planners answer from the
    index; PostgreSQL would scan the table for ``IS NOT NULL ... LIMIT 1``)."""
    lowest = sa.select(sa.func.min(Trace.session_id)).where(Trace.project_id == project_id)
    return session.scalar(lowest) is not None


def _start_cursor(cursor: str) -> tuple[int, int]:
    start, row_id = decode_cursor(cursor)
    if not isinstance(start, int):
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}")
    return start, row_id
