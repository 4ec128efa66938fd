"""API keys: made with a secure random source, shown once, stored as a digest.

A key reads ``rl_`` and 43 URL-safe characters (32 random bytes). Its first 11
characters are its public prefix: lists show it, revocation names it, and a request's
key is found by it, then checked against the stored SHA-256 digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from store import audit
from store.models import ApiKey, Project
from store.projects import ensure_projects, project_name_problem

SCOPES = ("ingest", "read", "admin")
_MARK = "rl_"
_PREFIX_LENGTH = 11  # "rl_" and 8 characters: 48 bits, unique by index
_KEY_LENGTH = len(_MARK) + 43
# last_used_at is written at most this often per key: not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyProblem(ValueError):
    """A key that cannot be made or found; the message says why."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: int
    project: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewKey:
    record: KeyRecord
    secret: str  # the key itself: shown once, never stored


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who a verified key speaks for."""

    key_id: int
    prefix: str
    project_id: int
    project: str
    scopes: frozenset[str]


def checked_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes in canonical order; an unknown or missing one is a KeyProblem."""
    given = set(scopes)
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise KeyProblem(f"unknown scope {unknown[0]!r}: scopes are {', '.join(SCOPES)}")
    if not given:
        raise KeyProblem(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return tuple(scope for scope in SCOPES if scope in given)


def create_key(
    connection: sa.Connection, project: str, name: str, scopes: Iterable[str], *, actor: str
) -> NewKey:
    """A new key of ``project`` (made if new: a team's first key makes its project)."""
    problem = project_name_problem(project)
    if problem is not None:
        raise KeyProblem(problem)
    if not name.strip() or len(name) > 200:
        raise KeyProblem("a key's name must be 1 to 200 characters")
    wanted = checked_scopes(scopes)
    project_id = ensure_projects(connection, [project])[project]
    now = datetime.now(UTC)
    while True:
        secret = _MARK + secrets.token_urlsafe(32)
        prefix = secret[:_PREFIX_LENGTH]
        taken = connection.scalar(sa.select(ApiKey.id).where(ApiKey.prefix == prefix))
        if taken is None:  # 48 random bits: a repeat is all but impossible, but cheap to skip
            break
    key_id = connection.execute(
        sa.insert(ApiKey)
        .values(
            project_id=project_id,
            name=name,
            prefix=prefix,
            digest=_digest(secret),
            scopes=" ".join(wanted),
            created_at=now,
        )
        .returning(ApiKey.id)
    ).scalar_one()
    audit.record(
        connection,
        actor,
        "key.create",
        project_id=project_id,
        target=prefix,
        detail={"name": name, "scopes": list(wanted)},
    )
    record = KeyRecord(key_id, project, name, prefix, wanted, now, None, None)
    return NewKey(record, secret)


# A key's row with its project's name, as the functions below read it.
_KEYS = sa.select(*ApiKey.__table__.c, Project.name.label("project")).join(
    Project, Project.id == ApiKey.project_id
)


def list_keys(connection: sa.Connection, project: str | None = None) -> list[KeyRecord]:
    """Keys, revoked ones included, of a project or all, newest first."""
    query = _KEYS.order_by(ApiKey.id.desc())
    if project is not None:
        query = query.where(Project.name == project)
    return [_record(row) for row in connection.execute(query)]


def revoke_key(connection: sa.Connection, prefix: str, *, actor: str) -> KeyRecord:
    """Revoke the key with this prefix (revoking it again changes nothing)."""
    key = connection.execute(_KEYS.where(ApiKey.prefix == prefix[:_PREFIX_LENGTH])).one_or_none()
    if key is None:
        raise KeyProblem(f"no key with prefix {prefix[:_PREFIX_LENGTH]!r}")
    if key.revoked_at is None:
        now = datetime.now(UTC)
        connection.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=now))
        audit.record(connection, actor, "key.revoke", project_id=key.project_id, target=key.prefix)
        return _record(key, revoked_at=now)
    return _record(key)


def verify_key(connection: sa.Connection, secret: str) -> KeyIdentity | None:
    """Who the key speaks for, or None: unknown, revoked or malformed alike."""
    if len(secret) != _KEY_LENGTH or not secret.startswith(_MARK) or not secret.isascii():
        return None
    key = connection.execute(_KEYS.where(ApiKey.prefix == secret[:_PREFIX_LENGTH])).one_or_none()
    if key is None:
        return None
    if not hmac.compare_digest(key.digest, _digest(secret)) or key.revoked_at is not None:
        return None
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        connection.execute(sa.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    scopes = frozenset(key.scopes.split())
    return KeyIdentity(key.id, key.prefix, key.project_id, key.project, scopes)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _record(key: sa.Row[Any], revoked_at: datetime | None = None) -> KeyRecord:
    return KeyRecord(
        key.id,
        key.project,
        key.name,
        key.prefix,
        tuple(key.scopes.split()),
        key.created_at,
        key.last_used_at,
        revoked_at or key.revoked_at,
    )
