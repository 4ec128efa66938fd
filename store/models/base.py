"""Declarative base with conventions declared once for every table.

The constraint naming convention gives indexes and constraints the same names on SQLite
and PostgreSQL, so Alembic autogenerate diffs stay empty and revisions can name them.
Database keys are ``id``; OpenTelemetry identifiers keep their own names (``trace_id``,
``span_id``) so the two are never confused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import JSONText, RowId, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: sa.BigInteger(),
        float: sa.Float(),
        str: sa.String(),
        bool: sa.Boolean(),
        datetime: UTCDateTime(),
        dict[str, Any]: JSONText(),
        list[Any]: JSONText(),
        Any: JSONText(),
    }


class IdMixin:
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
