"""Who a request speaks for, and what it may do in which project.

Every door (OTLP over HTTP and gRPC, the API, the pages) asks ``Credentials`` the same
questions: is sign-in on, whose key is this, whose session is this cookie. Answers are
kept for ``ttl_s`` so that a busy exporter costs no database read per request; a
revoked key or a disabled user is therefore refused within that many seconds, and a
sign-out at once (the server that signs out forgets the session).

Sign-in is on as soon as the store has a user, and stays on for the life of the
process: no later change in the store can turn a running server open.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store import api_keys, users
from store.models import ROLES, Project, User

# What a request needs, weakest first. A role or a key's scopes grant a set of these.
LEVELS = ("read", "write", "admin")
_ROLE_LEVELS = {"viewer": ("read",), "editor": ("read", "write"), "admin": LEVELS}
_SCOPE_LEVELS = {"read": ("read",), "admin": LEVELS, "ingest": ()}


@dataclass(frozen=True, slots=True)
class Principal:
    """A key, a signed-in user, or the open local mode.

    ``everything``: may do anything anywhere (local mode, or an instance admin).
    Otherwise ``projects`` says what it may do in each project it has, by name.
    """

    actor: str  # how the audit log names it: "local", "user:EMAIL", "key:PREFIX"
    everything: bool = False
    projects: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ingest: frozenset[str] = frozenset()  # project names it may send spans to
    user: str | None = None  # a signed-in user's email
    session_token: str | None = None  # a signed-in browser's (for its CSRF token)

    def may(self, project: str, level: str) -> bool:
        return self.everything or level in self.projects.get(project, ())

    def default_project(self) -> str | None:
        """The project a request that names none is about (None: it may see all)."""
        if self.everything:
            return None
        names = sorted(self.projects)
        return names[0] if names else None


LOCAL = Principal(actor="local", everything=True)
ANONYMOUS = Principal(actor="anonymous")  # signed out, once sign-in is on: may do nothing


KEY_HEADER = "x-api-key"
AUTHORIZATION_HEADER = "authorization"


def presented_key(header: Callable[[str], str | None]) -> str | None:
    """The key a request carries, from ``x-api-key`` or a Bearer authorization (the
    headers ``OTEL_EXPORTER_OTLP_HEADERS`` sends, and API clients), by any door."""
    key = header(KEY_HEADER)
    if key:
        return key.strip()
    scheme, _, value = (header(AUTHORIZATION_HEADER) or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def key_principal(key: api_keys.KeyIdentity) -> Principal:
    levels = frozenset(level for scope in key.scopes for level in _SCOPE_LEVELS[scope])
    return Principal(
        actor=f"key:{key.prefix}",
        projects={key.project: levels} if levels else {},
        ingest=frozenset({key.project}) if "ingest" in key.scopes else frozenset(),
    )


def user_principal(connection: sa.Connection, user: users.SignedIn, token: str) -> Principal:
    names = dict(
        connection.execute(
            sa.select(Project.id, Project.name).where(Project.id.in_(list(user.roles)))
        ).all()
    )
    projects = {
        names[pid]: frozenset(_ROLE_LEVELS[role])
        for pid, role in user.roles.items()
        if pid in names and role in ROLES
    }
    return Principal(
        actor=f"user:{user.email}",
        everything=user.admin,
        projects=projects,
        user=user.email,
        session_token=token,
    )


class Credentials:
    """The store's answers about keys, sessions and sign-in, kept for ``ttl_s``."""

    def __init__(self, engine: Engine, ttl_s: float = 10.0) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._sessions: dict[str, tuple[float, Principal | None]] = {}
        self._sign_in_on = False
        self._sign_in_checked = -ttl_s

    def sign_in_required(self) -> bool:
        """True once the store has a user (checked every ``ttl_s`` until then)."""
        if self._sign_in_on:
            return True
        now = time.monotonic()
        if now - self._sign_in_checked >= self._ttl:
            with self._engine.connect() as connection:
                found = connection.scalar(sa.select(User.id).limit(1)) is not None
            self._sign_in_on, self._sign_in_checked = found, now
        return self._sign_in_on

    def key(self, secret: str) -> Principal | None:
        """The key's principal; None for an unknown, revoked or malformed key."""
        return self._cached(self._keys, secret, self._read_key)

    def session(self, token: str) -> Principal | None:
        """The signed-in user's principal; None once the session is over."""
        return self._cached(self._sessions, token, self._read_session)

    def forget_session(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(token), None)

    def _cached(
        self,
        cache: dict[str, tuple[float, Principal | None]],
        secret: str,
        read: Callable[[str], Principal | None],
    ) -> Principal | None:
        digest = _digest(secret)
        now = time.monotonic()
        with self._lock:
            held = cache.get(digest)
        if held is not None and now - held[0] < self._ttl:
            return held[1]
        found = read(secret)
        with self._lock:
            if len(cache) > 10_000:  # bounded: random bad secrets must not grow it forever
                cache.clear()
            cache[digest] = (now, found)
        return found

    def _read_key(self, secret: str) -> Principal | None:
        with self._engine.begin() as connection:
            key = api_keys.verify_key(connection, secret)
        return key_principal(key) if key is not None else None

    def _read_session(self, token: str) -> Principal | None:
        with self._engine.connect() as connection:
            user = users.signed_in(connection, token)
            return user_principal(connection, user, token) if user is not None else None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode(errors="surrogatepass")).hexdigest()
