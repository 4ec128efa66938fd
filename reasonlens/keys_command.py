"""``reasonlens keys``: make, list and revoke a project's API keys from the shell.

A new key is printed once; only its digest is kept.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from reasonlens.store_access import ACTOR, OK, migrated, refused, said
from store.api_keys import KeyProblem, create_key, list_keys, revoke_key


def create_command(project: str, name: str, scopes: list[str], database_url: str) -> int:
    try:
        with migrated(database_url) as engine, engine.begin() as connection:
            made = create_key(connection, project, name, scopes, actor=ACTOR)
    except KeyProblem as problem:
        return refused(problem)
    record = made.record
    said(f"key {record.prefix} for project {record.project!r} ({', '.join(record.scopes)}):")
    said(made.secret)
    said("It is shown this once: store it now.")
    return OK


def list_command(project: str | None, database_url: str) -> int:
    with migrated(database_url) as engine, engine.connect() as connection:
        keys = list_keys(connection, project)
    table = Table("prefix", "project", "name", "scopes", "created", "last used", "revoked")
    for key in keys:
        table.add_row(
            key.prefix,
            key.project,
            key.name,
            " ".join(key.scopes),
            _when(key.created_at),
            _when(key.last_used_at),
            _when(key.revoked_at),
        )
    Console(highlight=False).print(table)
    return OK


def revoke_command(prefix: str, database_url: str) -> int:
    try:
        with migrated(database_url) as engine, engine.begin() as connection:
            key = revoke_key(connection, prefix, actor=ACTOR)
    except KeyProblem as problem:
        return refused(problem)
    said(f"revoked {key.prefix} ({key.project!r}, {key.name!r})")
    return OK


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}Z"
