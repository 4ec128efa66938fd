"""Scheduled eval work: the job table that schedulers fill and workers drain.

A job is one run of a suite that is due: the scheduler inserts it when the suite's
cron slot comes (``evals/scheduler.py``), a person by "run now". Any worker process
claims it with one atomic update (``store/jobs.py``) and holds it under a lease it
renews while scoring; a worker that dies stops renewing, and once the lease has
expired another worker takes the job again. ``(suite_id, due_at)`` is unique, so two
schedulers that both see a slot come enqueue it once. A suite runs one job at a time:
its next job waits until the running one ends (or its lease runs out and it is taken
back), so an online suite's windows never overlap.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin

JOB_STATUSES = ("queued", "running", "done", "failed")
JOB_REASONS = ("schedule", "manual")


class EvalJob(IdMixin, Base):
    __tablename__ = "eval_jobs"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    suite_id: Mapped[int] = mapped_column(sa.ForeignKey("eval_suites.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(sa.String(16))  # JOB_REASONS
    # The cron slot it runs for (schedule), or when it was asked for (manual).
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(16))  # JOB_STATUSES
    attempts: Mapped[int] = mapped_column(server_default=sa.text("0"))
    worker: Mapped[str | None] = mapped_column(sa.Text)
    lease_until: Mapped[datetime | None]
    # The run of the latest attempt.
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eval_runs.id"))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("uq_eval_jobs_suite_id_due_at", "suite_id", "due_at", unique=True),
        sa.Index("ix_eval_jobs_status_due_at", "status", "due_at"),
        sa.Index("ix_eval_jobs_suite_id_status", "suite_id", "status"),
        # A suite's runs never overlap (an online suite's windows would): one running job
        # per suite, which the claim's pick respects and this enforces under a race.
        sa.Index(
            "uq_eval_jobs_running_suite_id",
            "suite_id",
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        ),
    )
