"""``reasonlens keys``: its subcommands' options and help (``keys_command.py`` runs them)."""

from __future__ import annotations

from typing import Annotated

import typer

from reasonlens.cli_options import DbOption, cli_settings

keys_app = typer.Typer(
    help="API keys: what OTLP exporters and API clients authenticate with.", no_args_is_help=True
)


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="The key's project (made if new).")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="ingest, read or admin; repeat for several (--scope ingest --scope read)."
        ),
    ],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'checkout prod'.")] = "key",
    db: DbOption = None,
) -> None:
    """Make a key and print it, once. Exits 2 on a bad scope or project name."""
    from reasonlens.keys_command import create_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(create_command(project, name, scope, settings.database_url))


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="One project's keys.")] = None,
    db: DbOption = None,
) -> None:
    """List keys (prefix, project, scopes, created, last used, revoked); never the keys."""
    from reasonlens.keys_command import list_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(list_command(project, settings.database_url))


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (as listed), or the key.")],
    db: DbOption = None,
) -> None:
    """Revoke a key: requests with it get 401 from then on. Exits 2 if there is none."""
    from reasonlens.keys_command import revoke_command

    settings = cli_settings(database_url=db)
    raise typer.Exit(revoke_command(prefix, settings.database_url))
