"""The audit log: every admin action (keys, users, suites, known-good marks), kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from store.models import AuditEntry, Project


def record(
    connection: sa.Connection,
    actor: str,
    action: str,
    *,
    project_id: int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Log an action in the caller's transaction: the entry stands or falls with it."""
    connection.execute(
        sa.insert(AuditEntry).values(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            project_id=project_id,
            target=target,
            detail=detail,
        )
    )


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    actor: str
    action: str
    project: str | None
    target: str | None
    detail: dict[str, Any] | None


def entries(
    connection: sa.Connection, project_id: int | None = None, limit: int = 100
) -> list[Entry]:
    """The newest entries first, of one project or of all."""
    query = (
        sa.select(
            AuditEntry.at,
            AuditEntry.actor,
            AuditEntry.action,
            Project.name,
            AuditEntry.target,
            AuditEntry.detail,
        )
        .outerjoin(Project, Project.id == AuditEntry.project_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if project_id is not None:
        query = query.where(AuditEntry.project_id == project_id)
    return [Entry(*row) for row in connection.execute(query)]
