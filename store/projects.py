"""Project lookup and creation: a project exists as soon as a span names it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import dialect
from store.models import Project

projects = Project.__table__


_BY_NAME = sa.select(projects.c.name, projects.c.id).where(
    projects.c.name.in_(sa.bindparam("names", expanding=True))
)


def ensure_projects(connection: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the named projects, creating the missing ones (concurrency-safe).

    Looks first and inserts only what is missing: on the ingest path the projects
    nearly always exist, and one SELECT is cheaper than an upsert per commit.
    """
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found = dict(connection.execute(_BY_NAME, {"names": wanted}).all())
    missing = [name for name in wanted if name not in found]
    if missing:
        now = datetime.now(UTC)
        connection.execute(
            dialect.insert(connection, projects).on_conflict_do_nothing(index_elements=["name"]),
            [{"name": name, "created_at": now} for name in missing],
        )
        found.update(connection.execute(_BY_NAME, {"names": missing}).all())
    return found


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


def project_names(connection: Connection) -> list[str]:
    """Every project, by name: the dashboard's project picker."""
    return list(connection.execute(sa.select(Project.name).order_by(Project.name)).scalars())
