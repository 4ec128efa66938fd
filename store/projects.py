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


MAX_PROJECT_NAME = 200


def project_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a project, or None."""
    if not isinstance(name, str) or not name.strip():
        return "a project name must be a non-empty string"
    if len(name) > MAX_PROJECT_NAME:
        return f"a project name must be at most {MAX_PROJECT_NAME} characters"
    return None
