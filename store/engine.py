"""Engine setup for the two supported databases: embedded SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from store.text_search import SQLITE_LOWER, unicode_lower

SqliteSynchronous = Literal["FULL", "NORMAL"]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    sqlite_synchronous: SqliteSynchronous = "FULL",
    sqlite_wal_autocheckpoint: int | None = None,
    sqlite_cache_mib: int = 16,
    pool_size: int = 10,
) -> Engine:
    """Build an engine; on SQLite, set the PRAGMAs every connection needs.

    ``sqlite_wal_autocheckpoint`` (pages) is for the span writer's own engine: it
    leaves checkpoints to :class:`store.maintenance.SqliteMaintenance` and keeps the
    automatic one only as a high-water safety net. ``sqlite_cache_mib`` is the page cache
    of each connection: large for the writer (the unique index of a big store stays in
    memory while inserting), small elsewhere to keep the server's memory bounded.
    ``pool_size`` is PostgreSQL's pool: connections kept open, and as many more under load
    (SQLite's pool opens a connection per thread).

    Unknown backends are refused here, with the URL forms that work, rather than failing
    later with a driver error.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed,
            # The writer thread and the API's worker threads share the pool; each
            # connection is used by one thread at a time.
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        sa.event.listen(
            engine,
            "connect",
            _sqlite_pragmas(sqlite_synchronous, sqlite_wal_autocheckpoint, sqlite_cache_mib),
        )
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(
            parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
        )
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/dbname"
    )


def _sqlite_pragmas(
    synchronous: SqliteSynchronous, wal_autocheckpoint: int | None, cache_mib: int
) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers (the API, evals) never block the writer, nor it them.
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL fsyncs the WAL on every commit, so an acknowledged span survives power
        # loss, not only a process crash. Group commit makes that one fsync per batch
        # of requests, which is why durability costs little throughput here.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A second process (e.g. `reasonlens db upgrade`, an eval run) waits, not fails.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        if wal_autocheckpoint is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
        cursor.close()
        # Text search folds case beyond ASCII, as PostgreSQL does (store/text_search.py).
        dbapi_connection.create_function(SQLITE_LOWER, 1, unicode_lower, deterministic=True)

    return on_connect
