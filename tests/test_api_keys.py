"""API keys in the store and from the CLI: made at random, shown once, kept as a digest,
verified in constant time, revocable, their use and every change recorded."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import audit
from store.api_keys import KeyProblem, create_key, list_keys, revoke_key, verify_key
from store.engine import create_engine
from store.models import ApiKey, Project

REASONLENS = str(Path(sys.executable).with_name("reasonlens"))


def test_a_key_is_random_shown_once_and_kept_as_a_digest(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        made = [
            create_key(connection, "shop", f"k{n}", ["read", "ingest"], actor="cli")
            for n in range(20)
        ]
    secrets = {key.secret for key in made}
    assert len(secrets) == 20 and all(s.startswith("rl_") and len(s) == 46 for s in secrets)
    assert made[0].record.scopes == ("ingest", "read")  # canonical order
    with engine.connect() as connection:
        stored = connection.execute(sa.select(ApiKey.__table__)).all()
        dumped = " ".join(str(value) for row in stored for value in row)
        assert not any(secret in dumped for secret in secrets)
        assert all(key.secret.startswith(key.record.prefix) for key in made)
        entries = audit.entries(connection)
    assert len(entries) == 20 and {e.action for e in entries} == {"key.create"}
    assert entries[0].project == "shop" and entries[0].actor == "cli"
    assert entries[0].detail == {"name": "k19", "scopes": ["ingest", "read"]}


def test_verify_finds_the_project_and_refuses_anything_else(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        key = create_key(connection, "shop", "exporter", ["ingest"], actor="cli")
        other = create_key(connection, "bank", "reader", ["read"], actor="cli")
    with engine.begin() as connection:
        found = verify_key(connection, key.secret)
        assert found is not None
        assert (found.project, found.scopes) == ("shop", frozenset({"ingest"}))
        assert verify_key(connection, other.secret).project == "bank"  # type: ignore[union-attr]
        forged = key.secret[:-4] + ("AAAA" if not key.secret.endswith("AAAA") else "BBBB")
        for wrong in (forged, key.secret[:-1], "", "rl_" + "x" * 43, key.secret + " ", "é" * 46):
            assert verify_key(connection, wrong) is None, wrong
        last_used = connection.scalar(
            sa.select(ApiKey.last_used_at).where(ApiKey.prefix == key.record.prefix)
        )
    assert last_used is not None and datetime.now(UTC) - last_used < timedelta(minutes=1)
    with engine.begin() as connection:  # within a minute: not written again
        verify_key(connection, key.secret)
        again = connection.scalar(
            sa.select(ApiKey.last_used_at).where(ApiKey.prefix == key.record.prefix)
        )
    assert again == last_used


def test_a_revoked_key_is_refused_and_stays_listed(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        key = create_key(connection, "shop", "old", ["ingest", "read"], actor="cli")
    with engine.begin() as connection:
        revoked = revoke_key(connection, key.record.prefix, actor="ada")
        assert revoked.revoked_at is not None
        assert revoke_key(connection, key.secret, actor="ada").revoked_at == revoked.revoked_at
    with engine.begin() as connection:
        assert verify_key(connection, key.secret) is None
        [listed] = list_keys(connection, "shop")
        assert listed.revoked_at is not None and listed.name == "old"
        actions = [(e.action, e.actor) for e in audit.entries(connection)]
    assert actions == [("key.revoke", "ada"), ("key.create", "cli")]  # revoked once


@pytest.mark.parametrize(
    ("project", "name", "scopes", "message"),
    [
        ("shop", "k", ["write"], "unknown scope 'write'"),
        ("shop", "k", [], "at least one scope"),
        ("", "k", ["read"], "non-empty"),
        ("shop", " ", ["read"], "1 to 200 characters"),
        ("x" * 201, "k", ["read"], "at most 200"),
    ],
)
def test_a_bad_key_request_changes_nothing(
    engine: sa.Engine, project: str, name: str, scopes: list[str], message: str
) -> None:
    with pytest.raises(KeyProblem, match=message), engine.begin() as connection:
        create_key(connection, project, name, scopes, actor="cli")
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0
        assert connection.scalar(sa.select(sa.func.count()).select_from(Project)) == 0
        assert audit.entries(connection) == []


def test_the_cli_makes_lists_and_revokes_keys(fresh_db: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REASONLENS, "keys", *args, "--db", fresh_db],
            capture_output=True,
            text=True,
            timeout=120,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )

    made = run("create", "--project", "shop", "--scope", "ingest", "--name", "prod exporter")
    assert made.returncode == 0, made.stderr
    secret = next(line for line in made.stdout.splitlines() if line.startswith("rl_"))
    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert secret[:11] in listed.stdout and "prod exporter" in listed.stdout
    assert secret not in listed.stdout
    bad = run("create", "--project", "shop", "--scope", "owner")
    assert bad.returncode == 2 and "unknown scope 'owner'" in bad.stderr
    assert run("revoke", secret[:11]).returncode == 0
    missing = run("revoke", "rl_nothere")
    assert missing.returncode == 2 and "no key with prefix" in missing.stderr
    engine = create_engine(fresh_db)
    try:
        with engine.begin() as connection:
            assert verify_key(connection, secret) is None
            assert [e.action for e in audit.entries(connection)] == ["key.revoke", "key.create"]
    finally:
        engine.dispose()
