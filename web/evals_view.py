"""What the eval pages and the eval API read off a stored run: its figures, its
thresholds, its duration and the charts of its score values.

A finished run carries its summary (``evals/summary.py``) as JSON; these helpers read
it in one place, so the dashboard and the API agree, and a running run (no summary
yet) reads as "not known" everywhere rather than as zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from evals.evaluators import evaluator_class
from evals.suite import SuiteError, load_suite
from store.eval_reads import Histogram
from store.models import EvalRun
from web import charts


def evaluator_figures(run: EvalRun) -> dict[str, dict[str, Any]]:
    """Per evaluator (the suite's order), the runner's figures; empty while running."""
    return dict((run.summary or {}).get("evaluators") or {})


def threshold_checks(run: EvalRun) -> list[dict[str, Any]]:
    return list((run.summary or {}).get("thresholds") or [])


def selection_figures(run: EvalRun) -> dict[str, Any] | None:
    selection = (run.summary or {}).get("selection")
    return dict(selection) if selection else None


def pass_rates(run: EvalRun) -> dict[str, float | None]:
    return {name: fig.get("pass_rate") for name, fig in evaluator_figures(run).items()}


def thresholds_held(run: EvalRun) -> tuple[int, int]:
    """(held, set) over the run's threshold checks."""
    checks = threshold_checks(run)
    return sum(1 for check in checks if check.get("held")), len(checks)


def duration_s(run: EvalRun, now: datetime | None = None) -> float | None:
    """Scoring time of a finished run; a running run's time so far when ``now`` is given."""
    measured = (run.summary or {}).get("duration_s")
    if measured is not None:
        return float(measured)
    end = run.finished_at or now
    return None if end is None else max(0.0, (end - run.started_at).total_seconds())


def evaluator_metrics(run: EvalRun) -> list[tuple[str, str | None]]:
    """(evaluator, verdict metric) in the suite's order: from the summary once the run
    finished, else from the definition it runs with (metric None if not loadable)."""
    figures = evaluator_figures(run)
    if figures:
        return [(name, fig.get("metric")) for name, fig in figures.items()]
    try:
        specs = load_suite(run.definition).evaluators
    except SuiteError:
        return []
    found: list[tuple[str, str | None]] = []
    for spec in specs:
        try:
            found.append((spec.name, evaluator_class(spec.name).metric))
        except (ImportError, KeyError):
            found.append((spec.name, None))
    return found


def ns(moment: datetime | None) -> int | None:
    """A datetime as the nanoseconds the ``time`` template filter formats."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def fmt_value(value: float | None) -> str:
    """A score's value, whatever its unit: whole numbers whole, others to 4 digits."""
    if value is None:
        return "\u2013"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class Chart:
    evaluator: str
    metric: str
    values: int
    svg: Markup


def histogram_chart(histogram: Histogram) -> Chart:
    """Stacked bars of how many verdicts fell in each value bucket, by outcome."""
    labels = [_bucket_label(histogram, b.low, b.high) for b in histogram.buckets]
    series: list[tuple[str, Sequence[float | None]]] = [
        ("passed", [b.passed for b in histogram.buckets]),
        ("failed", [b.failed for b in histogram.buckets]),
    ]
    if any(b.not_applicable for b in histogram.buckets):
        series.append(("not applicable", [b.not_applicable for b in histogram.buckets]))
    svg = charts.bars(
        f"{histogram.evaluator}: {histogram.metric}",
        labels,
        series,
        stacked=True,
        formatter=lambda count: f"{count:,.0f}",
        height=260,
    )
    return Chart(histogram.evaluator, histogram.metric, histogram.values, svg)


def _bucket_label(histogram: Histogram, low: float, high: float) -> str:
    if histogram.integral and high - low == 1:
        return fmt_value(low)
    return f"{fmt_value(low)}\u2013{fmt_value(high)}"
