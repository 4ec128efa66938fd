"""Reads and writes for runaway detection: agents' baselines, the usage of traces still
arriving, and the flags (``collector/runaway.py`` decides; this only reads and writes).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from store import dialect
from store.models import Project, Runaway, Trace

# A trace's steps are its model calls and tool calls: what a looping agent repeats.
STEPS = Trace.llm_call_count + Trace.tool_call_count
TOKENS = Trace.input_tokens + Trace.output_tokens


Usage = tuple[int, str | None, str | None, int, int]
# Trace ids bound per query: far below any database's limit on bound values, however
# many traces a burst of writes touched.
IDS_PER_QUERY = 1000


@dataclass(frozen=True, slots=True)
class TraceUsage:
    project_id: int
    trace_id: str
    agent_name: str | None
    service_name: str | None
    steps: int
    tokens: int


def recent_usage(connection: sa.Connection, since_ns: int) -> list[Usage]:
    """(project_id, agent_name, service_name, steps, tokens) of every trace that started
    since ``since_ns``."""
    rows = connection.execute(
        sa.select(Trace.project_id, Trace.agent_name, Trace.service_name, STEPS, TOKENS).where(
            Trace.start_time_ns >= since_ns
        )
    )
    return [(p, agent, service, steps, tokens) for p, agent, service, steps, tokens in rows]


def usage_of(
    connection: sa.Connection, project_ids: dict[str, int], trace_ids: dict[str, Collection[str]]
) -> list[TraceUsage]:
    """The rollups of the traces a write touched (by project name), as now stored."""
    found: list[TraceUsage] = []
    for project, ids in trace_ids.items():
        project_id = project_ids.get(project)
        if project_id is None:
            continue
        ordered = sorted(ids)
        for start in range(0, len(ordered), IDS_PER_QUERY):
            rows = connection.execute(
                sa.select(
                    Trace.project_id,
                    Trace.trace_id,
                    Trace.agent_name,
                    Trace.service_name,
                    STEPS,
                    TOKENS,
                ).where(
                    Trace.project_id == project_id,
                    Trace.trace_id.in_(ordered[start : start + IDS_PER_QUERY]),
                )
            )
            found += [TraceUsage(*row) for row in rows]
    return found


def project_ids(connection: sa.Connection, names: Collection[str]) -> dict[str, int]:
    rows = connection.execute(sa.select(Project.name, Project.id).where(Project.name.in_(names)))
    return {name: project_id for name, project_id in rows}


def flag(connection: sa.Connection, runaways: Sequence[dict[str, object]]) -> None:
    """Record runaways; a trace already flagged keeps its first flag (what it had
    reached when it first went past its agent's limits)."""
    if runaways:
        insert = dialect.insert(connection, Runaway.__table__).on_conflict_do_nothing(
            index_elements=["project_id", "trace_id"]
        )
        connection.execute(insert, list(runaways))


def runaways(
    session: Session, project_id: int, *, since: datetime | None = None, limit: int = 50
) -> list[tuple[Runaway, Trace]]:
    """The project's runaways, newest flag first, with their traces as they are now."""
    query = (
        sa.select(Runaway, Trace)
        .join(
            Trace,
            sa.and_(Trace.project_id == Runaway.project_id, Trace.trace_id == Runaway.trace_id),
        )
        .where(Runaway.project_id == project_id)
        .order_by(Runaway.flagged_at.desc(), Runaway.trace_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Runaway.flagged_at >= since)
    return [(runaway, trace) for runaway, trace in session.execute(query)]


def runaway_of(session: Session, project_id: int, trace_id: str) -> Runaway | None:
    return session.get(Runaway, (project_id, trace_id))
