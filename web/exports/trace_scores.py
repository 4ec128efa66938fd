"""A trace's scores as the trace page's Scores table lists them: by evaluator, the
current ones (the newest of each metric, span and source) and then those they
superseded, which the page folds away."""

from __future__ import annotations

from typing import Any

import pandas as pd

from store.score_read import TraceScore
from web.score_view import ScorePanel

COLUMNS: tuple[str, ...] = (
    "trace_id", "evaluator", "metric", "value", "label", "passed", "source", "explanation",
    "span_id", "run_id", "suite", "created_at", "current",
)  # fmt: skip


def trace_scores_frame(trace_id: str, panel: ScorePanel) -> pd.DataFrame:
    records = [
        _row(trace_id, score, current)
        for group in panel.groups
        for current, scores in ((True, group.current), (False, group.earlier))
        for score in scores
    ]
    return pd.DataFrame(records, columns=list(COLUMNS), dtype=object)


def _row(trace_id: str, s: TraceScore, current: bool) -> dict[str, Any]:
    return {
        "trace_id": trace_id, "evaluator": s.evaluator, "metric": s.metric, "value": s.value,
        "label": s.label, "passed": s.passed, "source": s.source,
        "explanation": s.explanation, "span_id": s.span_id, "run_id": s.run_id,
        "suite": s.suite, "current": current,
        "created_at": s.created_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }  # fmt: skip
