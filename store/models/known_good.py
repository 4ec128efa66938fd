"""The agent version a team vouches for: what drift and comparisons measure against.

One per agent and project; marking another version replaces it (the mark's time and
note say when and why).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin


class KnownGoodVersion(IdMixin, Base):
    __tablename__ = "known_good_versions"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    agent_name: Mapped[str] = mapped_column(sa.Text)
    version: Mapped[str] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    marked_at: Mapped[datetime]

    __table_args__ = (
        sa.Index(
            "uq_known_good_versions_project_id_agent_name",
            "project_id",
            "agent_name",
            unique=True,
        ),
    )
