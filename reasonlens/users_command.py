"""``reasonlens users``: dashboard users and their roles, from the shell (the first
user is made here, ``--admin`` for the instance's owner)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from reasonlens.store_access import ACTOR, OK, migrated, refused, said
from store.users import UserProblem, create_user, disable, grant, user_list


def create_command(email: str, password: str, admin: bool, database_url: str) -> int:
    try:
        with migrated(database_url) as engine, engine.begin() as connection:
            create_user(connection, email, password, admin=admin, actor=ACTOR)
    except UserProblem as problem:
        return refused(problem)
    said(f"made {email.strip().lower()}")
    return OK


def grant_command(email: str, project: str, role: str, database_url: str) -> int:
    try:
        with migrated(database_url) as engine, engine.begin() as connection:
            grant(connection, email, project, role, actor=ACTOR)
    except UserProblem as problem:
        return refused(problem)
    said(f"{email.strip().lower()} is {role} of {project!r}")
    return OK


def disable_command(email: str, database_url: str) -> int:
    try:
        with migrated(database_url) as engine, engine.begin() as connection:
            disable(connection, email, actor=ACTOR)
    except UserProblem as problem:
        return refused(problem)
    said(f"{email.strip().lower()} is disabled; their sessions are over")
    return OK


def list_command(database_url: str) -> int:
    with migrated(database_url) as engine, engine.connect() as connection:
        users = user_list(connection)
    table = Table("email", "admin", "roles", "disabled")
    for user in users:
        roles = ", ".join(f"{project}: {role}" for project, role in sorted(user.roles.items()))
        table.add_row(
            user.email, "yes" if user.admin else "", roles, "yes" if user.disabled else ""
        )
    Console(highlight=False).print(table)
    return OK
