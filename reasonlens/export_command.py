"""``reasonlens export``: the dashboard's CSV exports, written to a file from the CLI.

Each kind takes the query string of its API route (``project=default&agent=support``),
with the route's path id by name (``run_id=12``), and goes through the same functions
as the route (``reasonlens/export_kinds.py``), so a file exported here equals the
download. A bad parameter exits 2 with a message naming it, before the file is
created; the file appears only once complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import sqlalchemy as sa
from fastapi import HTTPException
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url

from reasonlens.export_kinds import KINDS
from store.engine import create_engine
from web.drift_params import DriftQueryError
from web.exports.csv_writer import write_file
from web.params import BadParameter

OK, BAD_INPUT = 0, 2


class ExportError(ValueError):
    """A parameter the export cannot use; the message names it."""


def export_command(kind: str, query: str, out: Path, database_url: str) -> int:
    errors = Console(stderr=True, highlight=False)
    if not _exists(database_url):
        errors.print(f"[red]no database[/red] at {database_url}", soft_wrap=True)
        return BAD_INPUT
    engine = create_engine(database_url)
    try:
        try:
            # Every parameter is checked here, before the file is opened.
            chunks = _chunks(engine, kind, list(parse_qsl(query, keep_blank_values=False)))
        except ExportError as error:
            errors.print(f"[red]bad parameter[/red] {escape(str(error))}", soft_wrap=True)
            return BAD_INPUT
        size = write_file(out, chunks)
    finally:
        engine.dispose()
    Console(highlight=False).print(f"wrote {out} ({size:,} bytes)", soft_wrap=True)
    return OK


def _chunks(engine: sa.Engine, kind: str, query: list[tuple[str, str]]) -> Iterator[bytes]:
    try:
        return KINDS[kind](engine, query)
    except ValidationError as error:
        problem = error.errors()[0]
        name = ".".join(str(part) for part in problem["loc"]) or "query"
        raise ExportError(f"{name}: {problem['msg']}") from None
    except (BadParameter, DriftQueryError) as error:
        raise ExportError(str(error)) from None
    except HTTPException as error:  # the routes' own refusals (an unknown id or project)
        raise ExportError(str(error.detail)) from None


def _exists(database_url: str) -> bool:
    """A SQLite file that is not there would be created empty: say so instead."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return True
    return Path(url.database).exists()
