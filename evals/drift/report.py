"""Two cohorts through every chosen metric's test, into one report (a JSON-able dict).

The report is what the API returns, what a suite run keeps in its summary (the drift
evaluator's ``extra``) and what both pages render, so it carries everything they
show: per metric the two summaries, the test's figures, the verdict with its reason
and the limits it was held to, and the data of its chart (shared histogram bins for a
numeric metric, the leading categories' shares otherwise).
"""

from __future__ import annotations

from typing import Any

from evals.drift import stats
from evals.drift.cohort import Cohort
from evals.drift.metrics import chosen, counts, info, values
from evals.drift.options import Thresholds
from store.analytics.compare import histogram

CHART_CATEGORIES = 10


def build_report(
    baseline: Cohort,
    current: Cohort,
    *,
    metrics: list[str] | str = "all",
    thresholds: Thresholds | None = None,
    limit: int,
) -> dict[str, Any]:
    """Every metric's figures and verdict; ``drifted``: how many metrics drifted, None
    when no metric had enough data for a verdict (so a threshold on it does not hold)."""
    limits = thresholds or Thresholds()
    names = chosen(metrics, baseline, current)
    # Bonferroni: each test at p_value / tests, so a report of many metrics on two
    # samples of one distribution alarms on none in (1 - p_value) of cases, not on
    # some metric in one report out of seven.
    each = limits.model_copy(update={"p_value": limits.p_value / max(1, len(names))})
    rows = [_metric(name, baseline, current, each) for name in names]
    judged = [row for row in rows if row["drifted"] is not None]
    return {
        "baseline": _cohort(baseline),
        "current": _cohort(current),
        "limit": limit,
        "thresholds": limits.model_dump(),
        "judged": len(judged),
        "drifted": sum(row["drifted"] for row in judged) if judged else None,
        "drifted_metrics": [row["name"] for row in judged if row["drifted"]],
        "metrics": rows,
    }


def _cohort(cohort: Cohort) -> dict[str, Any]:
    return {
        "label": cohort.label,
        "traces": cohort.size,
        "limited": cohort.limited,
        "notes": list(cohort.notes),
    }


def _metric(name: str, baseline: Cohort, current: Cohort, limits: Thresholds) -> dict[str, Any]:
    about = info(name)
    head = {"name": name, "kind": about.kind, "label": about.label, "unit": about.unit}
    if about.kind == "numeric":
        before, after = values(baseline, name), values(current, name)
        figures = stats.numeric(before, after, limits)
        threshold = {
            "p_value": limits.p_value,
            "psi": limits.psi,
            "effect_size": limits.effect_size,
        }
        bins = histogram(before.tolist(), after.tolist())
        chart = (
            None if bins is None else {"edges": bins.edges, "baseline": bins.a, "current": bins.b}
        )
    else:
        before_counts, after_counts = counts(baseline, name), counts(current, name)
        # Calls and n-grams: many per trace, so the test counts traces (see stats).
        per_trace = name in ("escalation", "final_status")
        units = None if per_trace else (baseline.size, current.size)
        figures = stats.categorical(before_counts, after_counts, limits, units)
        threshold = {"p_value": limits.p_value, "divergence": limits.divergence}
        chart = _shares_chart(figures["baseline"]["shares"], figures["current"]["shares"])
    verdict = {True: "drifted", False: "stable", None: "not enough data"}[figures["drifted"]]
    return {**head, **figures, "verdict": verdict, "threshold": threshold, "chart": chart}


def _shares_chart(before: dict[str, float], after: dict[str, float]) -> dict[str, Any] | None:
    names = list(before or after)[:CHART_CATEGORIES]  # both in pooled order
    if not names:
        return None
    return {
        "categories": names,
        "baseline": [before.get(name, 0.0) for name in names],
        "current": [after.get(name, 0.0) for name in names],
    }
