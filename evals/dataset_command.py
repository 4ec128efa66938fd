"""``reasonlens dataset upload`` and ``dataset list``: datasets from files, on a database."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

import migrations
from evals.datasets import FORMATS_BY_SUFFIX, MAX_UPLOAD_BYTES, DatasetError, Format, upload
from store.datasets import list_datasets
from store.engine import create_engine
from store.projects import project_id

OK, BAD_FILE = 0, 2


def upload_file(path: Path, name: str, project: str, fmt: str | None, database_url: str) -> int:
    errors = Console(stderr=True, highlight=False)
    try:
        chosen = _format(path, fmt)
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise DatasetError(f"the file is over the {MAX_UPLOAD_BYTES:,} byte limit")
        data = path.read_bytes()
    except (DatasetError, OSError) as error:
        errors.print(f"[red]bad dataset[/red] {path}: {error}", soft_wrap=True)
        return BAD_FILE
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as connection:
            done = upload(connection, project, name, data, chosen)
    except DatasetError as error:
        errors.print(f"[red]bad dataset[/red] {path}: {error}", soft_wrap=True)
        return BAD_FILE
    finally:
        engine.dispose()
    verb = "created" if done.replaced.created else "replaced"
    before = "" if done.replaced.created else f" (it had {done.replaced.previous_items})"
    Console(highlight=False).print(
        f"dataset {name} in project {project}: {verb}, {done.items} items{before}"
    )
    return OK


def list_command(project: str, database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        with engine.connect() as connection:
            found = project_id(connection, project)
            datasets = list_datasets(connection, found) if found is not None else []
    finally:
        engine.dispose()
    console = Console(highlight=False)
    if not datasets:
        console.print(f"no datasets in project {project}")
        return OK
    table = Table("dataset", "items", "updated (UTC)", title=f"project {project}")
    for info in datasets:
        table.add_row(info.name, str(info.item_count), f"{info.updated_at:%Y-%m-%d %H:%M:%S}")
    console.print(table)
    return OK


def _format(path: Path, fmt: str | None) -> Format:
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise DatasetError(f"--format is csv or jsonl, not {fmt!r}")
        return "csv" if fmt == "csv" else "jsonl"
    found = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if found is None:
        suffixes = ", ".join(FORMATS_BY_SUFFIX)
        raise DatasetError(f"cannot tell the format from the name (use {suffixes} or --format)")
    return found
