"""The one place that knows SQLite from PostgreSQL for writes."""

from __future__ import annotations

from typing import assert_never

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

Upsert = sqlite.Insert | postgresql.Insert


def insert(connection: Connection, table: sa.Table) -> Upsert:
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` on this database."""
    return insert_for(connection.dialect.name, table)


def insert_for(name: str, table: sa.Table) -> Upsert:
    match name:
        case "sqlite":
            return sqlite.insert(table)
        case "postgresql":
            return postgresql.insert(table)
        case _:
            assert_never(name)  # type: ignore[arg-type]
