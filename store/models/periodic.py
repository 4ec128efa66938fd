"""Periodic store upkeep (retention) that any server or worker process may run.

One row per task: the process that runs it holds a lease (``holder``,
``lease_until``) it renews while working, as eval workers hold their jobs
(``store/models/schedule.py``), so two processes sharing a database never run it at
once, and one that dies hands it on when its lease runs out. ``next_run_at`` is when
it is due again; the last run's figures are kept for whoever wonders what it did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class PeriodicTask(Base):
    __tablename__ = "periodic_tasks"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # e.g. "retention"
    holder: Mapped[str | None] = mapped_column(sa.Text)
    lease_until: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_result: Mapped[dict[str, Any] | None]
