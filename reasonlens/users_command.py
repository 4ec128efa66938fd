"""``reasonlens users``: dashboard users and their roles, from the shell.

The first user is made here (``--admin`` for the instance's owner); the database is
migrated first, as ``serve`` would.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

import migrations
from store.engine import create_engine
from store.users import UserProblem, create_user, grant, user_list

OK, BAD_INPUT = 0, 2
ACTOR = "cli"


def create_command(email: str, password: str, admin: bool, database_url: str) -> int:
    return _changing(
        lambda connection: create_user(connection, email, password, admin=admin, actor=ACTOR),
        database_url,
        f"made {email.strip().lower()}",
    )


def grant_command(email: str, project: str, role: str, database_url: str) -> int:
    return _changing(
        lambda connection: grant(connection, email, project, role, actor=ACTOR),
        database_url,
        f"{email.strip().lower()} is {role} of {project!r}",
    )


def list_command(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.connect() as connection:
            users = user_list(connection)
    finally:
        engine.dispose()
    table = Table("email", "admin", "roles", "disabled")
    for user in users:
        roles = ", ".join(f"{project}: {role}" for project, role in sorted(user.roles.items()))
        table.add_row(
            user.email, "yes" if user.admin else "", roles, "yes" if user.disabled else ""
        )
    Console(highlight=False).print(table)
    return OK


def _changing(run: Callable[[sa.Connection], object], database_url: str, done: str) -> int:
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:
            run(connection)
    except UserProblem as problem:
        Console(stderr=True, highlight=False).print(f"[red]error[/red] {problem}", soft_wrap=True)
        return BAD_INPUT
    finally:
        engine.dispose()
    Console(highlight=False).print(done, soft_wrap=True, markup=False)
    return OK
