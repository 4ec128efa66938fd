"""The project rules, checked every ``interval`` seconds by a thread of their own.

* ``budget``: every budget of the rule's project, as ``store/analytics/budgets.py``
  reads it now. A budget forecast to go over its limit raises one alert in its period
  (an early warning, while there is time to act), and one that is over raises another:
  keyed ``budget:<rule>:<budget>:<period start>:<state>``, so each is announced once a
  period, and a new period (the next day or month) may announce them again.
* ``runaway``: every trace flagged as a runaway since the rule was created, one alert
  each (``runaway:<rule>:<trace>``). Runaways flagged before the rule are history, not
  news.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from urllib.parse import urlencode

import sqlalchemy as sa

from store.alert_rules import StoredRule, enabled_rules
from store.alerts import NewAlert, raise_alert, unalerted_runaways
from store.analytics.budgets import FORECAST_OVER, OVER, BudgetStatus, budget_status
from store.models import Project, Runaway
from store.models.alert import PROJECT_RULE_KINDS

log = logging.getLogger(__name__)


def check_project_rules(engine: sa.Engine, now: datetime | None = None) -> list[int]:
    """Raise the alerts the project rules call for now; the ids of those new."""
    now = now or datetime.now(UTC)
    raised: list[int] = []
    with engine.begin() as connection:
        for rule in enabled_rules(connection, kinds=PROJECT_RULE_KINDS):
            project = connection.scalar(
                sa.select(Project.name).where(Project.id == rule.project_id)
            )
            if rule.kind == "budget":
                found = _budgets(connection, rule, project, now)
            else:
                found = _runaways(connection, rule, project)
            for new in found:
                alert_id = raise_alert(connection, new, now)
                if alert_id is not None:
                    raised.append(alert_id)
    return raised


def _budgets(
    connection: sa.Connection, rule: StoredRule, project: str, now: datetime
) -> list[NewAlert]:
    found = []
    for status in budget_status(connection, rule.project_id, now):
        if status.state not in (OVER, FORECAST_OVER):
            continue
        period = status.period_start.date().isoformat()
        found.append(
            NewAlert(
                project_id=rule.project_id,
                rule_id=rule.id,
                kind=rule.kind,
                title=budget_title(status),
                figures=_budget_figures(status),
                link="/settings/budgets?" + urlencode({"project": project}),
                dedupe_key=f"budget:{rule.id}:{status.id}:{period}:{status.state}",
                webhook_url=rule.webhook_url,
            )
        )
    return found


def budget_title(status: BudgetStatus) -> str:
    scope = "the project" if status.agent is None else f"agent {status.agent}"
    budget = f"Budget of {scope} per {status.period} (${status.limit_usd:,.2f})"
    floor = "at least " if status.unpriced else ""
    spent = status.spent_usd or 0.0
    if status.state == OVER:
        what = "a trace cost" if status.period == "trace" else "spent"
        return f"{budget}: {what} {floor}${spent:,.2f}, over the limit"
    forecast = status.forecast_usd or 0.0
    end = f"by the end of the {status.period}"
    return f"{budget}: forecast ${forecast:,.2f} {end} (spent ${spent:,.2f})"


def _budget_figures(status: BudgetStatus) -> dict[str, object]:
    return {
        "budget_id": status.id,
        "agent": status.agent,
        "period": status.period,
        "period_start": status.period_start.isoformat(),
        "limit_usd": status.limit_usd,
        "spent_usd": status.spent_usd,
        "forecast_usd": status.forecast_usd,
        "traces": status.traces,
        "unpriced_traces": status.unpriced,
        "state": status.state,
        "top_trace_id": status.top_trace_id,
    }


def _runaways(connection: sa.Connection, rule: StoredRule, project: str) -> list[NewAlert]:
    return [
        NewAlert(
            project_id=rule.project_id,
            rule_id=rule.id,
            kind=rule.kind,
            title=(
                f"Runaway trace of {runaway.baseline} {runaway.name}: {runaway.steps} steps "
                f"(limit {runaway.steps_limit:.0f}), {runaway.tokens:,} tokens "
                f"(limit {runaway.tokens_limit:,.0f})"
            ),
            figures=_runaway_figures(runaway),
            link=f"/traces/{runaway.trace_id}?" + urlencode({"project": project}),
            dedupe_key=f"runaway:{rule.id}:{runaway.trace_id}",
            webhook_url=rule.webhook_url,
            trace_id=runaway.trace_id,
        )
        for runaway in unalerted_runaways(connection, rule.project_id, rule.id, rule.created_at)
    ]


def _runaway_figures(runaway: Runaway) -> dict[str, object]:
    return {
        "baseline": runaway.baseline,
        "name": runaway.name,
        "flagged_at": runaway.flagged_at.isoformat(),
        "steps": runaway.steps,
        "steps_limit": runaway.steps_limit,
        "tokens": runaway.tokens,
        "tokens_limit": runaway.tokens_limit,
        "baseline_traces": runaway.baseline_traces,
    }


class ProjectRuleChecker:
    """Checks the project rules every ``interval`` seconds, in a daemon thread; a check
    that fails is logged and tried again at the next tick."""

    def __init__(self, engine: sa.Engine, interval: float) -> None:
        self._engine = engine
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-checker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                check_project_rules(self._engine)
            except Exception:
                log.exception("checking the project alert rules failed")
