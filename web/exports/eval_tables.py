"""The eval pages' remaining tables as CSV frames: a run's thresholds, a suite's drift
over its runs, the evals page's recent runs (``reports.RUNS_COLUMNS``, as a suite's
runs). Each is a few dozen rows from the runs' stored summaries."""

from __future__ import annotations

from typing import Any

import pandas as pd

from store.eval_reads import RunRecord
from store.models import EvalRun
from web import evals_view
from web.drift_series import DriftSeries
from web.exports.reports import RUNS_COLUMNS, run_records

THRESHOLDS_COLUMNS: tuple[str, ...] = ("run_id", "evaluator", "check", "limit", "actual", "held")
DRIFT_SERIES_COLUMNS: tuple[str, ...] = (
    "suite_id", "run_id", "started_at", "status", "baseline", "drifted", "metric", "verdict",
    "size",
)  # fmt: skip


def thresholds_frame(run: EvalRun) -> pd.DataFrame:
    """The run page's Thresholds table: one row per check, in the suite's order."""
    records = [
        {"run_id": run.id, **{name: check.get(name) for name in THRESHOLDS_COLUMNS[1:]}}
        for check in evals_view.threshold_checks(run)
    ]
    return pd.DataFrame(records, columns=list(THRESHOLDS_COLUMNS), dtype=object)


def drift_series_frame(suite_id: int, series: DriftSeries | None) -> pd.DataFrame:
    """A suite's drift over its runs in long form: a row per run (oldest first) and
    metric, with its verdict and size (PSI, or Jensen-Shannon distance); a run that
    judged no metric is one row with an empty ``metric``."""
    records: list[dict[str, Any]] = []
    for point in series.points if series else []:
        head = {
            "suite_id": suite_id, "run_id": point.run_id,
            "started_at": _iso(point.started_at), "status": point.status,
            "baseline": point.baseline, "drifted": point.drifted,
        }  # fmt: skip
        names = [name for name in (series.metrics if series else []) if name in point.verdicts]
        records += [
            {**head, "metric": name, "verdict": point.verdicts[name], "size": point.sizes.get(name)}
            for name in names
        ] or [head]
    return pd.DataFrame(records, columns=list(DRIFT_SERIES_COLUMNS), dtype=object)


def recent_runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    """The evals page's recent runs, of every suite, newest first: the columns of a
    suite's runs (a row per run and evaluator)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        rows += run_records(record.run.suite_id, record.suite_name, record.run)
    return pd.DataFrame(rows, columns=list(RUNS_COLUMNS), dtype=object)


def _iso(moment: Any) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
