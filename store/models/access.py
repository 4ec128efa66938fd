"""Who may do what: API keys per project, dashboard users with a role per project,
their sessions, and the audit log of admin actions.

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


ROLES = ("viewer", "editor", "admin")  # each can do what the one before it can


class User(IdMixin, Base):
    """A dashboard user; ``admin``: may administer every project (the instance's owner)."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(320))  # stored lowercased
    password_hash: Mapped[str] = mapped_column(sa.Text)  # argon2id, PHC string
    admin: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("uq_users_email", "email", unique=True),)


class Membership(IdMixin, Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    role: Mapped[str] = mapped_column(sa.String(16))  # ROLES

    __table_args__ = (
        sa.Index("uq_memberships_user_id_project_id", "user_id", "project_id", unique=True),
    )


class UserSession(IdMixin, Base):
    """A signed-in browser: the cookie holds a random token, the table its digest."""

    __tablename__ = "user_sessions"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(sa.String(64))  # SHA-256 of the token, hex
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("uq_user_sessions_digest", "digest", unique=True),)


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
