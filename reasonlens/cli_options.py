"""What the ``reasonlens`` commands share: the ``--db`` option and their settings."""

from __future__ import annotations

from typing import Annotated

import typer

from reasonlens.settings import Settings

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: REASONLENS_DATABASE_URL or sqlite:///reasonlens.db)."
    ),
]


def cli_settings(**overrides: object) -> Settings:
    """The settings, with the options given on the command line (not None) over them."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
