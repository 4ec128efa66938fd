"""Alert rules, and the alerts they raised.

A rule watches one suite's runs (a threshold failed, drift, cost per trace, error or
escalation rate) or a whole project (a budget, a runaway trace). An alert is kept
whether or not anyone was told: it lists on the dashboard until acknowledged, and
its webhook delivery is an outbox row (``delivery_state``, ``next_attempt_at``), so a
restart resumes the retries and a condition is never announced twice
(``dedupe_key``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin

# Rules on a suite's runs, then rules on the project's traffic.
RUN_RULE_KINDS = ("threshold_failed", "drift", "cost_per_trace", "error_rate", "escalation_rate")
PROJECT_RULE_KINDS = ("budget", "runaway")
RULE_KINDS = RUN_RULE_KINDS + PROJECT_RULE_KINDS
ALERT_STATES = ("open", "acknowledged")
# none: the rule has no webhook; pending: to send (again at next_attempt_at);
# sent; failed: given up after the last retry.
DELIVERY_STATES = ("none", "pending", "sent", "failed")


class AlertRule(IdMixin, Base):
    __tablename__ = "alert_rules"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(24))  # RULE_KINDS
    # The suite whose runs it watches (run kinds); None for project kinds.
    suite_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("eval_suites.id", ondelete="CASCADE")
    )
    # cost_per_trace: USD; error_rate, escalation_rate: a share 0..1; else unused.
    limit: Mapped[float | None]
    webhook_url: Mapped[str | None] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(server_default=sa.true())
    created_at: Mapped[datetime]

    __table_args__ = (sa.Index("ix_alert_rules_project_id", "project_id"),)


class Alert(IdMixin, Base):
    __tablename__ = "alerts"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    # Kept when the rule is deleted: the alert says what it was (title, figures).
    rule_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alert_rules.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(sa.String(24))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eval_runs.id"))
    trace_id: Mapped[str | None] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.Text)
    figures: Mapped[dict[str, Any]]
    # The dashboard page that shows what the alert is about (a path).
    link: Mapped[str] = mapped_column(sa.Text)
    # One alert per condition: "run:<run>:<rule>", "budget:<rule>:<period>", ...
    dedupe_key: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.String(16))  # ALERT_STATES
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    webhook_url: Mapped[str | None] = mapped_column(sa.Text)
    delivery_state: Mapped[str] = mapped_column(sa.String(16))  # DELIVERY_STATES
    attempts: Mapped[int] = mapped_column(server_default=sa.text("0"))
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("uq_alerts_project_id_dedupe_key", "project_id", "dedupe_key", unique=True),
        sa.Index("ix_alerts_project_id_state_created_at", "project_id", "state", "created_at"),
        sa.Index("ix_alerts_delivery_state_next_attempt_at", "delivery_state", "next_attempt_at"),
    )
