"""``reasonlens users``: its subcommands' options and help (``users_command.py`` runs
them)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from reasonlens.cli_options import DbOption, cli_settings

users_app = typer.Typer(help="Dashboard users and their role per project.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email: their sign-in name.")],
    admin: Annotated[bool, typer.Option(help="May administer every project.")] = False,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input, not a prompt.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Make a dashboard user (password: at least 12 characters). Exits 2 on bad input."""
    from reasonlens.users_command import create_command

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = cli_settings(database_url=db)
    raise typer.Exit(create_command(email, password, admin, settings.database_url))


@users_app.command("grant")
def users_grant(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    project: Annotated[str, typer.Argument(help="The project (made if new).")],
    role: Annotated[str, typer.Argument(help="viewer, editor or admin.")],
    db: DbOption = None,
) -> None:
    """Give a user a role in a project (replacing the one they had there)."""
    from reasonlens.users_command import grant_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(grant_command(email, project, role, settings.database_url))


@users_app.command("disable")
def users_disable(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    db: DbOption = None,
) -> None:
    """Stop a user signing in, and end their sessions."""
    from reasonlens.users_command import disable_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(disable_command(email, settings.database_url))


@users_app.command("list")
def users_list(db: DbOption = None) -> None:
    """List users with their roles."""
    from reasonlens.users_command import list_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(list_command(settings.database_url))
