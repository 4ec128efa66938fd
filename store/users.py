"""Dashboard users: passwords hashed with argon2id, a role per project, sessions.

A password is checked against its argon2 hash (argon2-cffi's defaults, rehashed when
they change); an unknown email costs the same hash, so timing does not tell which
emails exist. A session is a random token in the browser's cookie and its SHA-256
digest here, so a copy of the table signs no one in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store import audit
from store.models import ROLES, Membership, Project, User, UserSession
from store.projects import ensure_projects

MIN_PASSWORD = 12
SESSION_LIFETIME = timedelta(days=14)
_hasher = PasswordHasher()
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown emails


class UserProblem(ValueError):
    """A user, role or password that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session is, and their role per project id."""

    user_id: int
    email: str
    admin: bool
    roles: dict[int, str]

    def may(self, project_id: int, role: str) -> bool:
        """At least ``role`` in the project (an instance admin may do anything)."""
        if self.admin:
            return True
        held = self.roles.get(project_id)
        return held is not None and ROLES.index(held) >= ROLES.index(role)


def create_user(
    connection: sa.Connection, email: str, password: str, *, admin: bool = False, actor: str
) -> int:
    address = _email(email)
    _check_password(password)
    if connection.scalar(sa.select(User.id).where(User.email == address)) is not None:
        raise UserProblem(f"a user with email {address!r} exists")
    user_id = connection.execute(
        sa.insert(User)
        .values(
            email=address,
            password_hash=_hasher.hash(password),
            admin=admin,
            created_at=datetime.now(UTC),
        )
        .returning(User.id)
    ).scalar_one()
    audit.record(connection, actor, "user.create", target=address, detail={"admin": admin})
    return user_id


def grant(connection: sa.Connection, email: str, project: str, role: str, *, actor: str) -> None:
    """Give the user ``role`` in the project (replacing any other role there)."""
    if role not in ROLES:
        raise UserProblem(f"unknown role {role!r}: roles are {', '.join(ROLES)}")
    user_id = connection.scalar(sa.select(User.id).where(User.email == _email(email)))
    if user_id is None:
        raise UserProblem(f"no user with email {_email(email)!r}")
    project_id = ensure_projects(connection, [project])[project]
    held = connection.scalar(
        sa.select(Membership.id).where(
            Membership.user_id == user_id, Membership.project_id == project_id
        )
    )
    if held is None:
        connection.execute(
            sa.insert(Membership).values(user_id=user_id, project_id=project_id, role=role)
        )
    else:
        connection.execute(sa.update(Membership).where(Membership.id == held).values(role=role))
    audit.record(
        connection, actor, "user.grant", project_id=project_id, target=_email(email),
        detail={"role": role},
    )  # fmt: skip


def disable(connection: sa.Connection, email: str, *, actor: str) -> None:
    """Stop the user signing in and end their sessions (servers notice within their
    credentials cache time); their roles and the audit log's entries stay."""
    address = _email(email)
    user_id = connection.scalar(sa.select(User.id).where(User.email == address))
    if user_id is None:
        raise UserProblem(f"no user with email {address!r}")
    now = datetime.now(UTC)
    connection.execute(
        sa.update(User)
        .where(User.id == user_id, User.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    connection.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    audit.record(connection, actor, "user.disable", target=address)


def sign_in(connection: sa.Connection, email: str, password: str) -> str | None:
    """A new session's token for the right password of an enabled user, else None."""
    user = connection.execute(
        sa.select(User.id, User.password_hash, User.disabled_at).where(
            User.email == email.strip().lower()
        )
    ).one_or_none()
    try:
        _hasher.verify(user.password_hash if user else _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        connection.execute(
            sa.update(User).where(User.id == user.id).values(password_hash=_hasher.hash(password))
        )
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    connection.execute(
        sa.insert(UserSession).values(
            user_id=user.id,
            digest=_digest(token),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token


def signed_in(connection: sa.Connection, token: str) -> SignedIn | None:
    """The session's user and roles; None once it ended, expired or the user is disabled."""
    user = connection.execute(
        sa.select(User.id, User.email, User.admin)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.digest == _digest(token),
            UserSession.ended_at.is_(None),
            UserSession.expires_at > datetime.now(UTC),
            User.disabled_at.is_(None),
        )
    ).one_or_none()
    if user is None:
        return None
    roles = connection.execute(
        sa.select(Membership.project_id, Membership.role).where(Membership.user_id == user.id)
    )
    return SignedIn(user.id, user.email, user.admin, dict(roles.all()))


def sign_out(connection: sa.Connection, token: str) -> None:
    connection.execute(
        sa.update(UserSession)
        .where(UserSession.digest == _digest(token), UserSession.ended_at.is_(None))
        .values(ended_at=datetime.now(UTC))
    )


def project_roles(connection: sa.Connection, email: str) -> dict[str, str]:
    """The user's role by project name."""
    rows = connection.execute(
        sa.select(Project.name, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .join(User, User.id == Membership.user_id)
        .where(User.email == _email(email))
    )
    return dict(rows.all())


@dataclass(frozen=True, slots=True)
class UserRecord:
    email: str
    admin: bool
    disabled: bool
    roles: dict[str, str]  # project name: role


def user_list(connection: sa.Connection) -> list[UserRecord]:
    users = connection.execute(
        sa.select(User.id, User.email, User.admin, User.disabled_at).order_by(User.email)
    ).all()
    roles: dict[int, dict[str, str]] = {}
    for user_id, project, role in connection.execute(
        sa.select(Membership.user_id, Project.name, Membership.role).join(
            Project, Project.id == Membership.project_id
        )
    ):
        roles.setdefault(user_id, {})[project] = role
    return [
        UserRecord(u.email, u.admin, u.disabled_at is not None, roles.get(u.id, {})) for u in users
    ]


def _email(email: str) -> str:
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(address) > 320
        or any(c.isspace() for c in address)
    ):
        raise UserProblem(f"not an email address: {email!r}")
    return address


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserProblem(f"a password needs at least {MIN_PASSWORD} characters")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
