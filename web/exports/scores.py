"""The scores export of an eval run: one row per score, in the order of the run's
results page (evaluator, then as written)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from store.exports import iter_run_scores
from web.exports.csv_writer import cell, csv_chunks, text_cell

COLUMNS: tuple[str, ...] = (
    "run_id", "project", "trace_id", "span_id", "evaluator", "metric", "value", "label",
    "passed", "explanation", "source", "created_at", "trace_name", "trace_status",
)  # fmt: skip


def score_csv(
    engine: sa.Engine,
    run_id: int,
    project: str,
    *,
    evaluator: str | None = None,
    failed_only: bool = False,
) -> Iterator[bytes]:
    rows = iter_run_scores(engine, run_id, evaluator=evaluator, failed_only=failed_only)
    return csv_chunks(COLUMNS, _cells(rows, project))


def _cells(rows: Iterator[sa.Row[Any]], project: str) -> Iterator[list[Any]]:
    t = text_cell
    for row in rows:
        s = row._mapping
        created = s["created_at"]
        yield [
            s["run_id"], t(project), s["trace_id"], s["span_id"], t(s["evaluator"]),
            t(s["metric"]), s["value"], t(s["label"]), cell(s["passed"]),
            t(s["explanation"]), s["source"],
            created.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            t(s["trace_name"]), s["trace_status"],
        ]  # fmt: skip
