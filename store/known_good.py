"""Known-good agent versions (``store/models/known_good.py``): mark, unmark, read, and
which version of an agent is running now, to hold against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from store import dialect
from store.models import KnownGoodVersion, Trace
from store.queries import filter_choices

# A version with traces this close to the agent's newest one is still running.
RUNNING_NS = 24 * 3600 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Mark:
    agent: str
    version: str
    note: str | None
    marked_at: datetime


def mark(
    connection: Connection,
    project_id: int,
    agent: str,
    version: str,
    note: str | None,
    now: datetime,
) -> None:
    """Vouch for ``version`` of the agent, replacing the version marked before."""
    values = {"version": version, "note": note, "marked_at": now}
    statement = dialect.insert(connection, KnownGoodVersion.__table__).values(
        project_id=project_id, agent_name=agent, **values
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=["project_id", "agent_name"], set_=values)
    )


def unmark(connection: Connection, project_id: int, agent: str) -> bool:
    result = connection.execute(
        sa.delete(KnownGoodVersion).where(
            KnownGoodVersion.project_id == project_id, KnownGoodVersion.agent_name == agent
        )
    )
    return result.rowcount == 1


def marks(connection: Connection, project_id: int) -> dict[str, Mark]:
    """The project's marks by agent."""
    rows = connection.execute(
        sa.select(
            KnownGoodVersion.agent_name,
            KnownGoodVersion.version,
            KnownGoodVersion.note,
            KnownGoodVersion.marked_at,
        )
        .where(KnownGoodVersion.project_id == project_id)
        .order_by(KnownGoodVersion.agent_name)
    )
    return {row[0]: Mark(*row) for row in rows}


def known_good_version(connection: Connection, project_id: int, agent: str) -> str | None:
    return connection.scalar(
        sa.select(KnownGoodVersion.version).where(
            KnownGoodVersion.project_id == project_id, KnownGoodVersion.agent_name == agent
        )
    )


def version_key(version: str | None) -> tuple[Any, ...]:
    """1.10 after 1.9: numbers compare as numbers."""
    parts = (version or "").replace("-", ".").split(".")
    # isascii: "²".isdigit() is True and int("²") fails; versions are untrusted text.
    return tuple(
        (0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part) for part in parts
    )


def current_version(
    connection: Connection, project_id: int, agent: str, versions: list[str]
) -> str | None:
    """Of ``versions`` (the agent's), the one that runs now: the highest of those with
    traces in the last day of the agent's traffic (a canary and the version it replaces
    run side by side; a rolled-back version stops having traces). One index seek per
    version: ``ix_traces_analytics`` leads with project, agent, version, start."""
    newest: dict[str, int] = {}
    for version in versions:
        latest = connection.scalar(
            sa.select(sa.func.max(Trace.start_time_ns)).where(
                Trace.project_id == project_id,
                Trace.agent_name == agent,
                Trace.agent_version == version,
            )
        )
        if latest is not None:
            newest[version] = latest
    if not newest:
        return None
    since = max(newest.values()) - RUNNING_NS
    return max((v for v, latest in newest.items() if latest >= since), key=version_key)


def current_versions(
    session: Session,
    project_id: int,
    agents: Iterable[str],
    versions: Sequence[tuple[str, str]] | None = None,
) -> dict[str, str | None]:
    """What each agent runs now (:func:`current_version`); ``versions``, the project's
    (agent, version) pairs, are read once for all agents unless given."""
    if versions is None:
        versions = filter_choices(session, project_id).versions
    by_agent: dict[str, list[str]] = {}
    for agent, version in versions:
        by_agent.setdefault(agent, []).append(version)
    connection = session.connection()
    return {
        agent: current_version(connection, project_id, agent, by_agent.get(agent, []))
        for agent in agents
    }
