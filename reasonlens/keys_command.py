"""``reasonlens keys``: make, list and revoke a project's API keys from the shell.

The database is migrated first, as ``serve`` would: keys are usually made before the
server first runs. A new key is printed once; only its digest is kept.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

import migrations
from store.api_keys import KeyProblem, create_key, list_keys, revoke_key
from store.engine import create_engine

OK, BAD_INPUT = 0, 2
ACTOR = "cli"


def create_command(project: str, name: str, scopes: list[str], database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:
            made = create_key(connection, project, name, scopes, actor=ACTOR)
    except KeyProblem as problem:
        Console(stderr=True, highlight=False).print(f"[red]error[/red] {problem}", soft_wrap=True)
        return BAD_INPUT
    finally:
        engine.dispose()
    out = Console(highlight=False)
    record = made.record
    out.print(
        f"key {record.prefix} for project {record.project!r} ({', '.join(record.scopes)}):",
        soft_wrap=True,
        markup=False,
    )
    out.print(made.secret, soft_wrap=True, markup=False)
    out.print("It is shown this once: store it now.", soft_wrap=True)
    return OK


def list_command(project: str | None, database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.connect() as connection:
            keys = list_keys(connection, project)
    finally:
        engine.dispose()
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
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:
            key = revoke_key(connection, prefix, actor=ACTOR)
    except KeyProblem as problem:
        Console(stderr=True, highlight=False).print(f"[red]error[/red] {problem}", soft_wrap=True)
        return BAD_INPUT
    finally:
        engine.dispose()
    Console(highlight=False).print(
        f"revoked {key.prefix} ({key.project!r}, {key.name!r})", soft_wrap=True, markup=False
    )
    return OK


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M}Z"
