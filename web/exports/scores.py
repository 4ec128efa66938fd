"""The scores export of an eval run: one row per score, in the order of the run's
results page (evaluator, then as written)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from store.exports import iter_run_scores
from store.models import Score, Trace
from web.exports.csv_writer import line_chunks, number, quoted

COLUMNS: tuple[str, ...] = (
    "run_id", "project", "trace_id", "span_id", "evaluator", "metric", "value", "label",
    "passed", "explanation", "source", "created_at", "trace_name", "trace_status",
)  # fmt: skip
SELECTED = (
    Score.run_id, Score.trace_id, Score.span_id, Score.evaluator, Score.metric, Score.value,
    Score.label, Score.passed, Score.explanation, Score.source, Score.created_at, Trace.name,
    Trace.status,
)  # fmt: skip
_PASSED = {True: "true", False: "false", None: ""}


def score_csv(
    engine: sa.Engine,
    run_id: int,
    project: str,
    *,
    evaluator: str | None = None,
    failed_only: bool = False,
) -> Iterator[bytes]:
    rows = iter_run_scores(engine, run_id, SELECTED, evaluator=evaluator, failed_only=failed_only)
    return line_chunks(COLUMNS, _lines(rows, quoted(project)))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _lines(rows: Iterable[sa.Row[Any]], project: str) -> Iterator[str]:
    """One line per row in :data:`COLUMNS` order (see ``web.exports.traces._lines``)."""
    q = quoted
    for row in rows:
        (run_id, trace_id, span_id, evaluator, metric, value, label, passed, explanation,
         source, created_at, trace_name, trace_status) = row[:13]  # fmt: skip
        yield (
            f"{run_id},{project},{trace_id},{span_id or ''},{q(evaluator)},{q(metric)},"
            f"{number(value)},{q(label)},{_PASSED[passed]},{q(explanation)},{source},"
            f"{_iso(created_at)},{q(trace_name)},{trace_status or ''}"
        )
