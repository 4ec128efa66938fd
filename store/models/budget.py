"""Spending limits a team sets, and the model-call loops that blow through them.

A budget caps what a project, or one of its agents, spends per trace, per UTC day or
per UTC month; the overview compares it with what was spent, the burn rate and the
month-end forecast (``store/analytics/budgets.py``). A runaway is a trace flagged
while it was still arriving, because its steps or tokens went far past its agent's own
baseline (``collector/runaway.py``): what was seen and the limits it crossed are kept,
since the baseline moves on.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin

BUDGET_PERIODS = ("trace", "day", "month")


class Budget(IdMixin, Base):
    __tablename__ = "budgets"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    agent_name: Mapped[str | None] = mapped_column(sa.Text)  # None: the whole project
    period: Mapped[str] = mapped_column(sa.String(8))  # BUDGET_PERIODS
    limit_usd: Mapped[float]
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_budgets_project_id", "project_id"),)


class Runaway(Base):
    __tablename__ = "runaways"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), primary_key=True)
    trace_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    # Whose baseline judged it: the agent's, or, while no span that arrived names the
    # agent (its agent span ends last), the service's.
    baseline: Mapped[str] = mapped_column(sa.String(8))  # agent | service
    name: Mapped[str] = mapped_column(sa.Text)  # that agent's or service's name
    flagged_at: Mapped[datetime]
    # What the trace had reached when flagged, and the agent's limits then.
    steps: Mapped[int]  # model calls + tool calls
    tokens: Mapped[int]  # input + output
    steps_limit: Mapped[float]
    tokens_limit: Mapped[float]
    baseline_traces: Mapped[int]  # the recent traces of the agent the limits come from

    __table_args__ = (sa.Index("ix_runaways_project_id_flagged_at", "project_id", "flagged_at"),)
