"""A finished run against its suite's enabled run rules: one alert per rule it breaks.

What each kind reads from the run's summary (``evals/runner.py`` writes it):

* ``threshold_failed``: the run failed; the alert lists the checks that did not hold.
* ``cost_per_trace``: the selection's cost over its traces, above the limit (USD).
  Unknown is not $0: while some traces are unpriced the true figure is unknown, but
  the priced cost over *all* the traces is a floor of it. The rule alerts on that floor
  only when the floor itself is over the limit (then the true cost is over for sure;
  the alert says "at least"), and stays silent otherwise rather than guess.
* ``error_rate``, ``escalation_rate``: the share of the selected traces with status
  error, or handed to a person, above the limit (a share, 0..1).
* ``drift``: the drift evaluator found a metric drifted (:func:`drifted_metrics`).

A run with no traces breaks no rate or cost rule: there is no figure to hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from store.alert_rules import StoredRule, enabled_rules
from store.alerts import NewAlert, raise_alert
from store.models import EvalRun, EvalSuite
from store.models.alert import RUN_RULE_KINDS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FinishedRun:
    id: int
    project_id: int
    suite_id: int
    suite: str
    status: str
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Finding:
    """What broke a rule: the alert's title and figures."""

    title: str
    figures: dict[str, Any]


def alert_on_run(engine: sa.Engine, run_id: int, now: datetime | None = None) -> list[int]:
    """Raise the alerts the run calls for; the ids of those new (a run checked again
    raises none)."""
    now = now or datetime.now(UTC)
    raised = []
    with engine.begin() as connection:
        run = _finished_run(connection, run_id)
        if run is None:
            return []
        for rule in enabled_rules(connection, suite_id=run.suite_id, kinds=RUN_RULE_KINDS):
            finding = CHECKS[rule.kind](run, rule)
            if finding is None:
                continue
            new = NewAlert(
                project_id=run.project_id,
                rule_id=rule.id,
                kind=rule.kind,
                title=finding.title,
                figures=finding.figures,
                link=f"/evals/runs/{run.id}",
                dedupe_key=f"run:{run.id}:{rule.id}",
                webhook_url=rule.webhook_url,
                run_id=run.id,
            )
            alert_id = raise_alert(connection, new, now)
            if alert_id is not None:
                raised.append(alert_id)
    return raised


def alert_on_run_safely(engine: sa.Engine, run_id: int) -> None:
    """For the runner: a run's verdict stands whatever happens to its alerts."""
    try:
        alert_on_run(engine, run_id)
    except Exception:
        log.exception("checking run %s against its alert rules failed", run_id)


_RUN_COLUMNS = (EvalRun.id, EvalRun.project_id, EvalRun.suite_id, EvalSuite.name,
                EvalRun.status, EvalRun.summary)  # fmt: skip


def _finished_run(connection: sa.Connection, run_id: int) -> FinishedRun | None:
    row = connection.execute(
        sa.select(*_RUN_COLUMNS)
        .join(EvalSuite, EvalSuite.id == EvalRun.suite_id)
        .where(EvalRun.id == run_id, EvalRun.status.in_(("passed", "failed")))
    ).first()
    return None if row is None else FinishedRun(*row[:5], row.summary or {})


def threshold_failed(run: FinishedRun, rule: StoredRule) -> Finding | None:
    if run.status != "failed":
        return None
    checks = run.summary.get("thresholds") or []
    failed = [check for check in checks if not check.get("held")]
    names = ", ".join(f"{c.get('evaluator')} {c.get('check')}" for c in failed)
    title = f"{run.suite} run #{run.id} failed {len(failed)} of {len(checks)} thresholds"
    return Finding(
        title + (f" ({names})" if names else ""), {"failed": failed, "thresholds": len(checks)}
    )


def cost_per_trace(run: FinishedRun, rule: StoredRule) -> Finding | None:
    selection = run.summary.get("selection") or {}
    traces = selection.get("traces") or 0
    priced_cost = selection.get("priced_cost_usd")
    if not traces or priced_cost is None or rule.limit is None:
        return None
    unpriced = selection.get("unpriced_traces") or 0
    per_trace = priced_cost / traces  # with unpriced traces, a floor of the true figure
    if per_trace <= rule.limit:
        return None
    floor = "at least " if unpriced else ""
    figures = {
        "cost_per_trace_usd": per_trace,
        "limit_usd": rule.limit,
        "traces": traces,
        "unpriced_traces": unpriced,
        "floor": bool(unpriced),
    }
    title = (
        f"{run.suite} run #{run.id}: cost per trace {floor}${per_trace:.4f} "
        f"over the ${rule.limit:.4f} limit"
    )
    return Finding(title, figures)


def _rate(counted: str, what: str) -> Callable[[FinishedRun, StoredRule], Finding | None]:
    def check(run: FinishedRun, rule: StoredRule) -> Finding | None:
        selection = run.summary.get("selection") or {}
        traces, count = selection.get("traces") or 0, selection.get(counted)
        if not traces or count is None or rule.limit is None:  # None: a run from before
            return None
        rate = count / traces
        if rate <= rule.limit:
            return None
        title = (
            f"{run.suite} run #{run.id}: {what} rate {100 * rate:.1f}% "
            f"over the {100 * rule.limit:.1f}% limit ({count} of {traces} traces)"
        )
        return Finding(title, {"rate": rate, "limit": rule.limit, counted: count, "traces": traces})

    return check


def drift(run: FinishedRun, rule: StoredRule) -> Finding | None:
    metrics = drifted_metrics(run.summary)
    if not metrics:
        return None
    title = f"{run.suite} run #{run.id}: drift in {len(metrics)} metrics ({', '.join(metrics)})"
    return Finding(title, {"drifted_metrics": metrics})


def drifted_metrics(summary: dict[str, Any]) -> list[str]:
    """The metrics the drift evaluator found drifted, from its run-level report (its
    ``extra``): a list of metric reports, or a dict holding one under ``metrics``, each
    with a ``drifted`` verdict (None: not enough data) and a ``metric`` (or ``name``).
    The one place that knows the report's shape."""
    extra = ((summary.get("evaluators") or {}).get("drift") or {}).get("extra")
    reports = extra.get("metrics") if isinstance(extra, dict) else extra
    if not isinstance(reports, list):
        return []
    return [
        str(report.get("metric") or report.get("name"))
        for report in reports
        if isinstance(report, dict) and report.get("drifted") is True
    ]


CHECKS: dict[str, Callable[[FinishedRun, StoredRule], Finding | None]] = {
    "threshold_failed": threshold_failed,
    "cost_per_trace": cost_per_trace,
    "error_rate": _rate("errors", "error"),
    "escalation_rate": _rate("escalated", "escalation"),
    "drift": drift,
}
