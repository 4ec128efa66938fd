"""Column types shared by the models, declared once so both databases agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# SQLite only aliases the rowid (and so auto-increments) for a column declared exactly
# INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for tables that grow past 2**31 rows.
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def to_json(value: Any) -> str:
    """Serialize a value for a :class:`JSONText` column (non-str keys and numpy values ok)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


class JSONText(TypeDecorator[Any]):
    """A JSON document: TEXT on SQLite, JSONB on PostgreSQL.

    The ingest path's bulk inserts bind JSON *text* through the driver (see
    :func:`to_json`), so serialization happens once, off the writer thread, where the
    spans are decoded, and no bind processor runs per row. ORM and Core statements
    (eval runs, scores) bind Python values, serialized here. Reads return Python values
    on both databases.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        # PostgreSQL's JSONB type serializes on its own.
        if value is None or dialect.name == "postgresql":
            return value
        return to_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # PostgreSQL's driver has already parsed JSONB, and a JSON string document
        # arrives as a Python str: only SQLite's text needs parsing.
        if dialect.name == "sqlite" and isinstance(value, str | bytes):
            return orjson.loads(value)
        return value


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
