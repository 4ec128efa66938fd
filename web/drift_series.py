"""Drift across a suite's runs: how many metrics drifted each time, and by how much.

Read from the stored run summaries (the ``drift`` evaluator's report in each), oldest
first, so a scheduled drift suite shows when behaviour moved: the suite page charts
it and ``GET /api/suites/{id}/drift`` returns it. A metric's size is its PSI (numeric)
or Jensen-Shannon distance (categorical and step sequences): the two measures the
verdicts are held to, each on its own scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup

from store.models import EvalRun
from web import charts

CHARTED_METRICS = 8  # lines on the size chart: the metrics that drifted most often


@dataclass(frozen=True, slots=True)
class DriftPoint:
    run_id: int
    started_at: datetime
    status: str
    baseline: str | None  # what the run held its traces to
    drifted: int | None  # None: no metric had enough data
    verdicts: dict[str, str]  # metric -> drifted | stable | not enough data
    sizes: dict[str, float | None]  # metric -> PSI or JS distance

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "status": self.status,
            "baseline": self.baseline,
            "drifted": self.drifted,
            "verdicts": self.verdicts,
            "sizes": self.sizes,
        }


@dataclass(frozen=True, slots=True)
class DriftSeries:
    points: list[DriftPoint]  # oldest first
    metrics: list[str] = field(default_factory=list)  # every metric any run judged

    @property
    def often(self) -> list[str]:
        """The metrics that drifted in most runs, most first (then by name)."""
        times = {
            name: sum(point.verdicts.get(name) == "drifted" for point in self.points)
            for name in self.metrics
        }
        return sorted((m for m in self.metrics if times[m]), key=lambda m: (-times[m], m))

    def charts(self) -> dict[str, Markup]:
        labels = [f"#{point.run_id}" for point in self.points]
        drawn = {
            "count": charts.line(
                "Metrics drifted per run",
                labels,
                [("drifted metrics", [point.drifted for point in self.points])],
                formatter=lambda value: f"{value:.0f}",
                height=220,
            )
        }
        shown = self.often[:CHARTED_METRICS]
        if shown:
            drawn["sizes"] = charts.line(
                "Size of the change (PSI, or Jensen-Shannon distance)",
                labels,
                [(name, [point.sizes.get(name) for point in self.points]) for name in shown],
                formatter=lambda value: f"{value:.3f}",
                height=260,
            )
        return drawn


def drift_series(runs: list[EvalRun]) -> DriftSeries | None:
    """The series of the runs that have a drift report (any order in); None if none has."""
    points = []
    metrics: dict[str, None] = {}
    for run in sorted(runs, key=lambda run: run.id):
        report = _report(run.summary)
        if report is None:
            continue
        rows = [row for row in report.get("metrics", []) if isinstance(row, dict)]
        metrics.update(dict.fromkeys(str(row.get("name")) for row in rows))
        baseline = report.get("baseline")
        points.append(
            DriftPoint(
                run.id,
                run.started_at,
                run.status,
                baseline.get("label") if isinstance(baseline, dict) else None,
                report.get("drifted"),
                {str(row.get("name")): str(row.get("verdict")) for row in rows},
                {str(row.get("name")): _size(row) for row in rows},
            )
        )
    return DriftSeries(points, list(metrics)) if points else None


def _report(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    evaluators = (summary or {}).get("evaluators") or {}
    extra = (evaluators.get("drift") or {}).get("extra")
    return extra if isinstance(extra, dict) and "metrics" in extra else None


def _size(row: dict[str, Any]) -> float | None:
    value = row.get("psi") if row.get("kind") == "numeric" else row.get("divergence")
    return float(value) if isinstance(value, int | float) else None
