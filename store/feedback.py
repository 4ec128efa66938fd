"""Human feedback: a person's verdict on a trace (or one span of it), kept as a score.

It is a score like a run's, with ``source='human'`` and no run, so the trace page and
the comparisons read it where they read the evaluators' verdicts. Unlike
``store.evals.add_scores`` (a run's scores in bulk) it answers with the new row's id,
which the API returns.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.evals import NewScore
from store.models import Score


def add_feedback(connection: Connection, project_id: int, score: NewScore) -> Score:
    """Store the feedback in the caller's transaction; the stored row."""
    values = {
        **asdict(score),
        "project_id": project_id,
        "run_id": None,
        "source": "human",
        "created_at": datetime.now(UTC),
    }
    new_id = connection.execute(sa.insert(Score).values(values).returning(Score.id)).scalar_one()
    return Score(id=int(new_id), **values)
