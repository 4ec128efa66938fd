"""Who may do what: API keys per project, and the audit log of admin actions.

A key is stored as its SHA-256 digest and a short public prefix, never as itself: it
is 32 random bytes, so a fast digest is as safe as a slow password hash and costs an
ingest request nothing. Revoked keys stay, so the audit log can still name them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(sa.Text)
    # The key's first characters, shown in lists and used to find it (unique).
    prefix: Mapped[str] = mapped_column(sa.String(16))
    digest: Mapped[str] = mapped_column(sa.String(64))  # SHA-256, hex
    scopes: Mapped[str] = mapped_column(sa.Text)  # space-separated, e.g. "ingest read"
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        sa.Index("uq_api_keys_prefix", "prefix", unique=True),
        sa.Index("ix_api_keys_project_id", "project_id"),
    )


class AuditEntry(IdMixin, Base):
    """One admin action: who (a user, a key's prefix, or ``cli``), what, on what."""

    __tablename__ = "audit_log"

    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.Text)
    action: Mapped[str] = mapped_column(sa.String(64))  # e.g. "key.create"
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id"))
    target: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[dict[str, Any] | None]

    __table_args__ = (sa.Index("ix_audit_log_project_id_at", "project_id", "at"),)
