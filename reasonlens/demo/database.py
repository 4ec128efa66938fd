"""The demo's database: a fresh SQLite file by default, never someone's existing data.

The default file is the demo's own and is deleted and recreated on every run, so the
traffic is exactly the generated traffic. A database named with ``--db`` may hold
real traces, so it is used only when it holds none.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from store.engine import create_engine
from store.models import LogRecord, Project, Span, Trace

DEFAULT_URL = "sqlite:///reasonlens-demo.db"
PROJECT = "default"


class DatabaseRefused(RuntimeError):
    """The named database holds traces already, or cannot be reached."""


def recreate_sqlite(url: str) -> Path:
    """Delete the SQLite file and its WAL side files; the server recreates and migrates it."""
    path = Path(make_url(url).database or "")
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return path.resolve()


def require_empty(url: str) -> None:
    try:
        engine = create_engine(url)
    except ValueError as error:  # an unsupported URL; the message lists the ones that work
        raise DatabaseRefused(str(error)) from None
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(Trace.__tablename__):
                return
            count = connection.execute(sa.select(sa.func.count()).select_from(Trace)).scalar_one()
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise DatabaseRefused(f"cannot use {display(url)}: {reason}") from None
    finally:
        engine.dispose()
    if count:
        raise DatabaseRefused(
            f"{display(url)} already holds {count:,} traces; the demo loads only into an "
            "empty database (omit --db to use the demo's own file)"
        )


def stored(url: str) -> tuple[int, int, int]:
    """Traces, spans and log records stored in the demo's project."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            counts = [
                connection.execute(
                    sa.select(sa.func.count())
                    .select_from(model)
                    .join(Project, Project.id == model.project_id)
                    .where(Project.name == PROJECT)
                ).scalar_one()
                for model in (Trace, Span, LogRecord)
            ]
    finally:
        engine.dispose()
    return counts[0], counts[1], counts[2]


def display(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
