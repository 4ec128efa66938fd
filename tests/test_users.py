"""Dashboard users in the store: argon2 passwords, roles per project, sessions that end,
expire or die with a disabled user, and every change in the audit log."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import audit
from store.engine import create_engine
from store.models import Project, User, UserSession
from store.users import UserProblem, create_user, grant, project_roles, sign_in, sign_out, signed_in

PASSWORD = "correct horse battery staple"
REASONLENS = str(Path(sys.executable).with_name("reasonlens"))


def test_a_user_signs_in_with_the_right_password_only(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        create_user(connection, " Ada@Example.com ", PASSWORD, actor="cli")
        stored = connection.execute(sa.select(User.email, User.password_hash)).one()
    assert stored.email == "ada@example.com" and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    with engine.begin() as connection:
        assert sign_in(connection, "ada@example.com", PASSWORD + "!") is None
        assert sign_in(connection, "bob@example.com", PASSWORD) is None
        token = sign_in(connection, "ADA@example.com", PASSWORD)
    assert token is not None
    with engine.begin() as connection:
        who = signed_in(connection, token)
        assert who is not None and who.email == "ada@example.com" and not who.admin
        assert signed_in(connection, token + "x") is None
        # Only the token's digest is kept.
        assert token not in str(connection.execute(sa.select(UserSession.__table__)).all())
        sign_out(connection, token)
        assert signed_in(connection, token) is None


def test_roles_rank_per_project(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        create_user(connection, "ada@example.com", PASSWORD, actor="cli")
        grant(connection, "ada@example.com", "shop", "editor", actor="cli")
        grant(connection, "ada@example.com", "bank", "viewer", actor="cli")
        grant(connection, "ada@example.com", "bank", "admin", actor="cli")  # replaces viewer
        token = sign_in(connection, "ada@example.com", PASSWORD)
        assert token is not None
        ids = dict(connection.execute(sa.select(Project.name, Project.id)).all())
        who = signed_in(connection, token)
        assert project_roles(connection, "ada@example.com") == {"shop": "editor", "bank": "admin"}
        entries = [(e.action, e.project) for e in audit.entries(connection)]
    assert who is not None
    assert who.may(ids["shop"], "viewer") and who.may(ids["shop"], "editor")
    assert not who.may(ids["shop"], "admin") and who.may(ids["bank"], "admin")
    assert not who.may(10**9, "viewer")
    assert entries[-1] == ("user.create", None) and entries[0] == ("user.grant", "bank")


def test_expired_sessions_and_disabled_users_are_signed_out(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        create_user(connection, "ada@example.com", PASSWORD, admin=True, actor="cli")
        old, current = (sign_in(connection, "ada@example.com", PASSWORD) for _ in range(2))
        assert old is not None and current is not None
        first = connection.scalar(sa.select(sa.func.min(UserSession.id)))
        connection.execute(
            sa.update(UserSession)
            .where(UserSession.id == first)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert signed_in(connection, old) is None
        who = signed_in(connection, current)
        assert who is not None and who.admin and who.may(12345, "admin")
        connection.execute(sa.update(User).values(disabled_at=datetime.now(UTC)))
        assert signed_in(connection, current) is None
        assert sign_in(connection, "ada@example.com", PASSWORD) is None


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ada", PASSWORD, "not an email address"),
        ("ada@example", PASSWORD, "not an email address"),
        ("a da@example.com", PASSWORD, "not an email address"),
        ("ada@example.com", "short", "at least 12 characters"),
    ],
)
def test_a_bad_user_changes_nothing(
    engine: sa.Engine, email: str, password: str, message: str
) -> None:
    with pytest.raises(UserProblem, match=message), engine.begin() as connection:
        create_user(connection, email, password, actor="cli")
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(User)) == 0
        assert audit.entries(connection) == []


def test_a_second_user_with_the_email_and_unknown_roles_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        create_user(connection, "ada@example.com", PASSWORD, actor="cli")
    for bad in (
        lambda c: create_user(c, "ADA@example.com", PASSWORD, actor="cli"),
        lambda c: grant(c, "ada@example.com", "shop", "owner", actor="cli"),
        lambda c: grant(c, "bob@example.com", "shop", "viewer", actor="cli"),
    ):
        with pytest.raises(UserProblem), engine.begin() as connection:
            bad(connection)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(Project)) == 0


def test_the_cli_makes_users_and_grants_roles(fresh_db: str) -> None:
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REASONLENS, "users", *args, "--db", fresh_db],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )

    made = run(
        "create", "--email", "Ada@Example.com", "--admin", "--password-stdin", stdin=PASSWORD
    )
    assert made.returncode == 0, made.stderr
    short = run("create", "--email", "bob@example.com", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    assert run("grant", "ada@example.com", "shop", "editor").returncode == 0
    bad = run("grant", "ada@example.com", "shop", "owner")
    assert bad.returncode == 2 and "unknown role 'owner'" in bad.stderr
    listed = run("list")
    assert "ada@example.com" in listed.stdout and "shop: editor" in listed.stdout
    assert "bob@" not in listed.stdout and PASSWORD not in listed.stdout
    engine = create_engine(fresh_db)
    try:
        with engine.begin() as connection:
            token = sign_in(connection, "ada@example.com", PASSWORD)
            assert token is not None
        disabled = run("disable", "ada@example.com")
        assert disabled.returncode == 0, disabled.stderr
        assert run("disable", "nobody@example.com").returncode == 2
        assert "yes" in run("list").stdout.split("ada@example.com", 1)[1].splitlines()[0]
        with engine.begin() as connection:
            assert signed_in(connection, token) is None
            assert sign_in(connection, "ada@example.com", PASSWORD) is None
            actions = [e.action for e in audit.entries(connection)]
        assert actions[0] == "user.disable"
    finally:
        engine.dispose()
