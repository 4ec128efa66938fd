"""Alembic environment: runs against the engine handed over by ``migrations.upgrade``.

Every ``reasonlens serve`` and ``reasonlens worker`` migrates on start, so several may
migrate one database at once (a fleet restarted after an upgrade). Each takes a lock
first, in the transaction the revisions then run in: the others wait for it, then find
the schema at head and do nothing. Without it, two PostgreSQL servers both created
``alembic_version`` and one failed to start; on SQLite the loser could run a revision's
DDL the winner had already run.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection, Engine

from store.models import Base

# Any constant: advisory locks belong to one database, so only processes migrating the
# same database meet on it.
_MIGRATION_LOCK = 0x7265_6173_6F6E  # "reason"

config = context.config
engine: Engine = config.attributes["engine"]


def _lock(connection: Connection) -> None:
    """Open the transaction holding the migration lock until the commit below.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: ``BEGIN IMMEDIATE``, the
    file's write lock (waited for up to the engine's busy timeout); DDL is
    transactional in SQLite, so the revisions also apply whole or not at all.
    Either way Alembic sees a transaction already begun and runs inside it.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


with engine.connect() as connection:
    _lock(connection)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
