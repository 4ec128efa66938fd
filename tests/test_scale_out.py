"""Scale-out: several reasonlens processes on one database.

Every ``reasonlens serve`` and ``reasonlens worker`` migrates on start, so a fleet
started at once migrates one database from several processes at the same moment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

import migrations
from store.engine import create_engine
from tests.databases import fresh_database


def test_migrations_racing_at_start_apply_once(tmp_path: Path) -> None:
    """Two processes migrating one fresh database at the same moment both succeed.

    Without the lock in migrations/env.py, two PostgreSQL servers both created
    ``alembic_version`` and one exited; on SQLite one re-ran the other's DDL.
    """
    with fresh_database(tmp_path) as url:
        command = [sys.executable, "-m", "reasonlens", "db", "upgrade", "--db", url]
        running = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=120)[0].decode() for process in running]
        assert [process.returncode for process in running] == [0, 0], outputs
        engine = create_engine(url)
        try:
            assert migrations.current_revision(engine) == migrations.head_revision()
            with engine.connect() as connection:
                assert connection.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
        finally:
            engine.dispose()
