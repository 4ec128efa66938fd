"""Project lookup and creation: a project exists as soon as a span names it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import dialect
from store.models import Project

projects = Project.__table__


def ensure_projects(connection: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named projects, creating the missing ones (concurrency-safe)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    now = datetime.now(UTC)
    connection.execute(
        dialect.insert(connection, projects).on_conflict_do_nothing(index_elements=["name"]),
        [{"name": name, "created_at": now} for name in wanted],
    )
    rows = connection.execute(
        sa.select(projects.c.name, projects.c.id).where(projects.c.name.in_(wanted))
    )
    return {name: id_ for name, id_ in rows}


def project_id(connection: Connection, name: str) -> int | None:
    return connection.scalar(sa.select(projects.c.id).where(projects.c.name == name))
