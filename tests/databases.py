"""Fresh, isolated databases for tests: a SQLite file, or a new PostgreSQL database.

The suite runs once per backend: REASONLENS_TEST_DATABASE_URL names a PostgreSQL
server to create databases on (``.ci/run`` sets it for the second pass); unset, SQLite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

BACKEND_URL = os.environ.get("REASONLENS_TEST_DATABASE_URL", "sqlite://")
BACKEND = make_url(BACKEND_URL).get_backend_name()


@contextmanager
def fresh_database(directory: Path, backend_url: str = BACKEND_URL) -> Iterator[str]:
    """Yield the URL of an empty database that is dropped afterwards (``backend_url``:
    another server than the suite's, as ``bench/scale_out.py`` asks)."""
    if make_url(backend_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{directory / f'reasonlens-{uuid.uuid4().hex[:8]}.db'}"
        return
    admin_url = make_url(backend_url).set(drivername="postgresql+psycopg")
    name = f"reasonlens_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
