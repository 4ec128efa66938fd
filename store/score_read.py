"""Reading one trace's scores, from every source: suite runs, human feedback through the
API, evaluation results the agent sent with its spans.

A trace scored nightly for a year has a few thousand rows; the page shows the newest
``limit`` and says how many there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import EvalRun, EvalSuite, Score

TRACE_SCORES = 500


@dataclass(frozen=True, slots=True)
class TraceScore:
    id: int
    evaluator: str
    metric: str
    value: float | None
    label: str | None
    passed: bool | None
    explanation: str | None
    source: str  # eval, human, agent
    span_id: str | None
    run_id: int | None
    suite: str | None  # the run's suite
    details: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TraceScores:
    scores: list[TraceScore]  # by evaluator, newest first within one
    total: int  # all the trace's scores; more than ``len(scores)`` when clipped


def trace_scores(
    connection: Connection, project_id: int, trace_id: str, limit: int = TRACE_SCORES
) -> TraceScores:
    """The newest ``limit`` scores of the trace (``ix_scores_project_id_trace_id``),
    then ordered by evaluator for grouping."""
    mine = sa.and_(Score.project_id == project_id, Score.trace_id == trace_id)
    rows = connection.execute(
        sa.select(
            Score.id,
            Score.evaluator,
            Score.metric,
            Score.value,
            Score.label,
            Score.passed,
            Score.explanation,
            Score.source,
            Score.span_id,
            Score.run_id,
            EvalSuite.name,
            Score.details,
            Score.created_at,
        )
        .outerjoin(EvalRun, EvalRun.id == Score.run_id)
        .outerjoin(EvalSuite, EvalSuite.id == EvalRun.suite_id)
        .where(mine)
        .order_by(Score.created_at.desc(), Score.id.desc())
        .limit(limit)
    ).all()
    scores = [TraceScore(*row) for row in rows]
    total = len(scores)
    if total == limit:
        total = int(connection.execute(sa.select(sa.func.count()).where(mine)).scalar_one())
    scores.sort(key=lambda s: s.evaluator)  # stable: newest first within an evaluator
    return TraceScores(scores, total)
