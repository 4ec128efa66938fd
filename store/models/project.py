"""Projects: the unit of isolation every trace belongs to."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin

DEFAULT_PROJECT = "default"


class Project(IdMixin, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(sa.String(200))

    __table_args__ = (sa.Index("uq_projects_name", "name", unique=True),)
    created_at: Mapped[datetime]
