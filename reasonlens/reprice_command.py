"""``reasonlens reprice``: recompute stored costs after the price book changed."""

from __future__ import annotations

from rich.console import Console

import migrations
from store.engine import create_engine
from store.pricing.reprice import reprice
from store.projects import project_id
from store.times import BadParameter, time_ns

OK, BAD_INPUT = 0, 2


def reprice_command(since: str | None, project: str | None, database_url: str) -> int:
    errors = Console(stderr=True, highlight=False)
    try:
        since_ns = time_ns("--since", since)
    except BadParameter as error:
        errors.print(f"[red]bad option[/red] {error}", soft_wrap=True)
        return BAD_INPUT
    engine = create_engine(database_url)
    try:
        migrations.upgrade(engine)
        found = None
        if project is not None:
            with engine.connect() as connection:
                found = project_id(connection, project)
            if found is None:
                errors.print(f"[red]no project[/red] {project!r} in this database", soft_wrap=True)
                return BAD_INPUT
        console = Console(highlight=False)
        done = reprice(engine, since_ns=since_ns, project_id=found)
    finally:
        engine.dispose()
    where = f" in project {project}" if project else ""
    console.print(
        f"re-priced {done.calls:,} model calls{where} in {done.seconds:.1f} s: "
        f"{done.changed:,} changed, {done.traces:,} trace costs recomputed",
        soft_wrap=True,
    )
    return OK
