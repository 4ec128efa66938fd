"""A run's figures per evaluator, its thresholds held or not, and the selection's cost.

Verdict rows (an evaluator's own metric) feed the pass rate: passed over passed plus
failed; rows with no verdict (not applicable) are counted apart, never as passes.
Means and percentiles are over the metric's values where it has them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evals.suite import Threshold


@dataclass(slots=True)
class EvaluatorTally:
    """Counts and values of one evaluator's verdict rows, added to chunk by chunk."""

    metric: str
    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    values: list[np.ndarray] = field(default_factory=list)

    def add(self, scores: pd.DataFrame) -> None:
        verdicts = scores[scores["metric"] == self.metric]
        passed = verdicts["passed"]
        self.passed += int((passed == True).sum())  # noqa: E712 (object column)
        self.failed += int((passed == False).sum())  # noqa: E712
        self.not_applicable += int(passed.isna().sum())
        values = pd.to_numeric(verdicts["value"], errors="coerce").dropna()
        if len(values):
            self.values.append(values.to_numpy(dtype=np.float64))

    def figures(self) -> dict[str, Any]:
        judged = self.passed + self.failed
        values = np.concatenate(self.values) if self.values else np.empty(0)
        return {
            "metric": self.metric,
            "passed": self.passed,
            "failed": self.failed,
            "not_applicable": self.not_applicable,
            "pass_rate": self.passed / judged if judged else None,
            "mean": _float(values.mean()) if len(values) else None,
            "p50": _float(np.percentile(values, 50)) if len(values) else None,
            "p95": _float(np.percentile(values, 95)) if len(values) else None,
            "values": len(values),
        }


@dataclass(slots=True)
class SelectionTally:
    """The selection's size, outcomes and spend: cost per successful trace."""

    traces: int = 0
    successful: int = 0
    errors: int = 0  # status error, as the overview's error rate counts
    escalated: int = 0  # handed to a person (store.rollup's escalation rollup)
    passing: int = 0  # traces that no evaluator of the run failed
    priced: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, traces: pd.DataFrame, failed: Collection[str] = ()) -> None:
        """``failed``: the trace ids some evaluator of the run gave a failing verdict."""
        self.traces += len(traces)
        self.successful += int(succeeded(traces).sum())
        self.errors += int((traces["status"] == "error").sum())
        self.escalated += int(traces["escalated"].astype(bool).sum())
        self.passing += int((~traces["trace_id"].isin(list(failed))).sum())
        cost = known_cost(traces)
        self.priced += int(cost.notna().sum())
        self.cost_usd += float(cost.sum(skipna=True))
        self.input_tokens += int(traces["input_tokens"].sum())
        self.output_tokens += int(traces["output_tokens"].sum())

    def figures(self) -> dict[str, Any]:
        unpriced = self.traces - self.priced
        return {
            "traces": self.traces,
            "successful": self.successful,
            "errors": self.errors,
            "escalated": self.escalated,
            "priced_traces": self.priced,
            "unpriced_traces": unpriced,
            # Unknown is not $0: no figure while any trace of the selection is unpriced.
            "cost_usd": self.cost_usd if self.priced and not unpriced else None,
            "priced_cost_usd": self.cost_usd if self.priced else None,
            "cost_per_success_usd": (
                self.cost_usd / self.successful if self.successful and not unpriced else None
            ),
            # Success as the suite judges it: every evaluator passed the trace (or found
            # nothing to judge). What a good outcome costs, failures' spend included.
            "passing_traces": self.passing,
            "cost_per_passing_usd": (
                self.cost_usd / self.passing if self.passing and not unpriced else None
            ),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


def succeeded(traces: pd.DataFrame) -> pd.Series:
    """Whether each trace's task succeeded: as the agent said (``outcome``), else as its
    status says (store/analytics/figures.py counts the same in SQL)."""
    said = traces["outcome"]
    return (said == "success") | (said.isna() & (traces["status"] != "error"))


def known_cost(traces: pd.DataFrame) -> pd.Series:
    """Each trace's cost where it is known in full: $0 for a trace that made no model
    call, NaN for one with a call that no price covers (cost_budget counts the same)."""
    cost = pd.to_numeric(traces["cost_usd"], errors="coerce")
    cost = cost.where(cost.notna() | (traces["llm_call_count"] > 0), 0.0)
    return cost.where(traces["unpriced_count"] == 0)


def threshold_checks(
    thresholds: dict[str, Threshold], evaluators: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One check per limit set; a limit on a figure the run has none of does not hold
    (a pass rate with no verdicts is not 100%)."""
    checks = []
    for name, threshold in thresholds.items():
        figures = evaluators.get(name, {})
        for kind, figure, limit, holds in (
            ("pass_rate", "pass_rate", threshold.pass_rate, _at_least),
            ("min_mean", "mean", threshold.min_mean, _at_least),
            ("max_mean", "mean", threshold.max_mean, _at_most),
            ("max_p50", "p50", threshold.max_p50, _at_most),
            ("max_p95", "p95", threshold.max_p95, _at_most),
            ("max_drifted", "drifted", threshold.max_drifted, _at_most),
        ):
            if limit is None:
                continue
            # Run-level figures an evaluator gives in finish() (drift's) are in "extra".
            actual = figures.get(figure, (figures.get("extra") or {}).get(figure))
            checks.append(
                {
                    "evaluator": name,
                    "check": kind,
                    "limit": limit,
                    "actual": actual,
                    "held": actual is not None and holds(actual, limit),
                }
            )
    return checks


def _at_least(actual: float, limit: float) -> bool:
    return actual >= limit - 1e-12


def _at_most(actual: float, limit: float) -> bool:
    return actual <= limit + 1e-12


def _float(value: Any) -> float:
    return float(value)
