"""Eval suites, their runs, and scores.

A suite is stored as the YAML a team wrote (``evals/suite.py`` reads it); each run keeps
the YAML it ran with, so a later edit of the suite never changes what a past run
meant. Scores come from runs, and also from outside a run: human feedback through the
API and evaluation results the agent sent itself (``source``), so ``run_id`` is
optional. ``passed`` is None where an evaluator gives a measure, not a verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, IdMixin


class EvalSuite(IdMixin, Base):
    __tablename__ = "eval_suites"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    definition: Mapped[str] = mapped_column(sa.Text)
    schedule: Mapped[str | None] = mapped_column(sa.Text)  # a cron expression, UTC
    # A disabled suite keeps its schedule but is not run by it.
    enabled: Mapped[bool] = mapped_column(server_default=sa.true())
    # The next cron slot the scheduler will enqueue (None: no schedule, or disabled).
    next_run_at: Mapped[datetime | None]
    # Online suites score traces in windows of start time: those that started before
    # this (ns) were selected by an earlier run.
    scored_until_ns: Mapped[int | None]
    # The run later runs are compared with by default; none means "the previous run".
    baseline_run_id: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        sa.Index("uq_eval_suites_project_id_name", "project_id", "name", unique=True),
    )


class EvalRun(IdMixin, Base):
    __tablename__ = "eval_runs"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    suite_id: Mapped[int] = mapped_column(sa.ForeignKey("eval_suites.id"))
    # running, passed (every threshold held), failed (one did not), error (did not finish)
    status: Mapped[str] = mapped_column(sa.String(16))
    definition: Mapped[str] = mapped_column(sa.Text)
    selection_size: Mapped[int | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.Index("ix_eval_runs_suite_id_started_at", "suite_id", "started_at"),)


class Score(IdMixin, Base):
    __tablename__ = "scores"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("eval_runs.id"))
    trace_id: Mapped[str] = mapped_column(sa.String(32))
    span_id: Mapped[str | None] = mapped_column(sa.String(16))
    evaluator: Mapped[str] = mapped_column(sa.Text)
    metric: Mapped[str] = mapped_column(sa.Text)
    value: Mapped[float | None]
    label: Mapped[str | None] = mapped_column(sa.Text)
    passed: Mapped[bool | None]
    explanation: Mapped[str | None] = mapped_column(sa.Text)
    # eval (a suite run), human (feedback through the API), agent (sent with the spans)
    source: Mapped[str] = mapped_column(sa.String(16))
    # What else the evaluator recorded: a judge's tokens and cost, a dataset item's key.
    details: Mapped[dict[str, Any] | None]
    # Scores sent by agents arrive with their spans, and spans may be sent twice: a
    # digest of the score's content makes the second copy a no-op (NULL for run scores).
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime]

    __table_args__ = (
        sa.Index("ix_scores_run_id_evaluator_id", "run_id", "evaluator", "id"),
        sa.Index("ix_scores_project_id_trace_id", "project_id", "trace_id"),
        # Partial: run scores (most rows) have no key and never enter it.
        sa.Index(
            "uq_scores_project_id_dedupe_key",
            "project_id",
            "dedupe_key",
            unique=True,
            sqlite_where=sa.text("dedupe_key IS NOT NULL"),
            postgresql_where=sa.text("dedupe_key IS NOT NULL"),
        ),
    )
