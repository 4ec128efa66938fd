"""What the admin commands (``keys``, ``users``) share: a migrated database for the
command's span, and a refusal that names the problem and exits 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape

import migrations
from store.engine import create_engine

OK, BAD_INPUT = 0, 2
ACTOR = "cli"  # the audit log's name for whoever ran the command


@contextmanager
def migrated(database_url: str) -> Iterator[sa.Engine]:
    """The database at the newest revision: admin commands often run before ``serve``."""
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def refused(problem: Exception) -> int:
    Console(stderr=True, highlight=False).print(
        f"[red]error[/red] {escape(str(problem))}", soft_wrap=True
    )
    return BAD_INPUT


def said(text: str) -> None:
    Console(highlight=False).print(text, soft_wrap=True, markup=False)
