"""Drift: the run's selection (the current cohort) against a baseline cohort.

A run-level check, so no score rows: each chunk's traces are kept as cohort values
(a few numbers and a step sequence per trace, the newest ``limit`` of them), and
``finish`` reads the baseline from the store and builds the report
(``evals/drift/report.py``) that goes into the run's summary. Its ``drifted`` figure,
the number of metrics that drifted, is what the suite's ``max_drifted`` threshold
holds (``thresholds: {drift: {max_drifted: 0}}`` fails the run on any drift).

Eval scores drift too: the scores that evaluators listed before this one gave the
run's traces, against the baseline traces' latest stored scores of the same metrics.
The baseline is resolved in ``setup``, so a run with no baseline (no known-good
version marked, a bad window) fails before scoring anything.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from evals.drift import cohort
from evals.drift.baseline import resolve_baseline
from evals.drift.metrics import chosen
from evals.drift.options import SCORE_PREFIX, DriftOptions
from evals.drift.report import build_report
from evals.evaluators.base import Evaluator, RunContext, scores_frame
from evals.frames import Chunk
from store.queries import TraceFilter


class Drift(Evaluator):
    name = "drift"
    metric = "drifted"
    span_columns = frozenset({"error_type"})
    options: DriftOptions

    def __init__(self, options: DriftOptions) -> None:
        super().__init__(options)
        self._parts: list[cohort.Cohort] = []
        self._context: RunContext | None = None
        self._baseline: tuple[TraceFilter, str] | None = None

    def setup(self, context: RunContext) -> None:
        self._context = context
        selection = context.selection or TraceFilter(project=context.project)
        with context.engine.connect() as connection:
            self._baseline = resolve_baseline(
                connection, self.options.baseline, selection, now_ns=context.now_ns
            )

    def score(self, chunk: Chunk) -> pd.DataFrame:
        found = cohort.part(chunk.traces, chunk.spans)
        own = [cohort.score_rows(rows, name) for name, rows in chunk.earlier.items()]
        scores = pd.concat([found.scores, *own], ignore_index=True)
        self._parts.append(cohort.Cohort(found.traces, found.calls, scores))
        if sum(len(part.traces) for part in self._parts) > 2 * self.options.limit:
            # Memory stays at about two cohorts' rows however large the run.
            self._parts = [cohort.combined(self._parts, self.options.limit)]
        return scores_frame()

    def finish(self) -> dict[str, Any]:
        assert self._context is not None and self._baseline is not None  # setup ran
        limit = self.options.limit
        current = cohort.combined(self._parts, limit)
        self._parts = []
        names = chosen(self.options.metrics, current)
        wanted = [
            tuple(name.removeprefix(SCORE_PREFIX).split(".", 1))
            for name in names
            if name.startswith(SCORE_PREFIX)
        ]
        selection, label = self._baseline
        began = time.perf_counter()
        with self._context.engine.connect() as connection:
            baseline = cohort.load(connection, selection, limit=limit, scores=wanted)
        report = build_report(
            _labelled(baseline, label),
            _labelled(current, "this run's selection"),
            metrics=names,
            thresholds=self.options.thresholds,
            limit=limit,
        )
        report["baseline_and_report_s"] = round(time.perf_counter() - began, 3)
        return report


def _labelled(found: cohort.Cohort, label: str) -> cohort.Cohort:
    return cohort.Cohort(found.traces, found.calls, found.scores, found.limited, label)
