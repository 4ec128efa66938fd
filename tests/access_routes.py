"""What each route of the app is sent to reach one project's objects: the table
``tests/test_access_isolation.py`` tries route by route, kept beside the data it
names (``tests/access_site.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.access_site import Holdings


@dataclass(frozen=True)
class Try:
    method: str
    url: str
    json: Any = None
    form: dict[str, str] | None = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)


def _suite(project: str) -> str:
    evaluators = [{"latency": {"max_ms": 1000}}]
    return json.dumps({"name": "taken", "select": {"project": project}, "evaluators": evaluators})


def tries(h: Holdings) -> dict[tuple[str, str], Try]:
    """For each route, a request at project ``h``'s objects."""
    p, t, r = {"project": h.project}, h.trace_id, h.run_ids
    price = {
        "project": h.project,
        "model": "m",
        "input_usd_per_mtok": "1",
        "output_usd_per_mtok": "1",
    }
    budget = {"project": h.project, "period": "day", "limit_usd": "1"}
    rule = {"project": h.project, "name": "x", "kind": "budget"}
    mark = {"project": h.project, "agent": h.agent, "version": "1.0"}
    table = {
        ("GET", "/api/traces.csv"): Try("GET", "/api/traces.csv", params=p),
        ("GET", "/api/spans.csv"): Try("GET", "/api/spans.csv", params=p),
        ("GET", "/api/eval-runs/{run_id}/scores.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/scores.csv"
        ),
        ("GET", "/api/eval-runs/{run_id}/summary.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/summary.csv"
        ),
        ("GET", "/api/suites/{suite_id}/runs.csv"): Try(
            "GET", f"/api/suites/{h.suite_id}/runs.csv"
        ),
        ("GET", "/api/suites.csv"): Try("GET", "/api/suites.csv", params=p),
        ("GET", "/api/traces/{trace_id}/scores.csv"): Try(
            "GET", f"/api/traces/{t}/scores.csv", params=p
        ),
        ("GET", "/api/alerts.csv"): Try("GET", "/api/alerts.csv", params=p),
        ("GET", "/api/alert-rules.csv"): Try("GET", "/api/alert-rules.csv", params=p),
        ("GET", "/api/schedules.csv"): Try("GET", "/api/schedules.csv", params=p),
        ("GET", "/api/budgets.csv"): Try("GET", "/api/budgets.csv", params=p),
        ("GET", "/api/prices.csv"): Try("GET", "/api/prices.csv", params=p),
        ("GET", "/api/runaways.csv"): Try("GET", "/api/runaways.csv", params=p),
        ("GET", "/api/known-good.csv"): Try("GET", "/api/known-good.csv", params=p),
        ("GET", "/api/suites/{suite_id}/jobs.csv"): Try(
            "GET", f"/api/suites/{h.suite_id}/jobs.csv"
        ),
        ("GET", "/api/eval-runs.csv"): Try("GET", "/api/eval-runs.csv", params=p),
        ("GET", "/api/eval-runs/{run_id}/thresholds.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/thresholds.csv"
        ),
        ("GET", "/api/eval-runs/{run_id}/drift.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/drift.csv"
        ),
        ("GET", "/api/suites/{suite_id}/drift.csv"): Try(
            "GET", f"/api/suites/{h.suite_id}/drift.csv"
        ),
        ("POST", "/api/suites"): Try("POST", "/api/suites", json={"definition": _suite(h.project)}),
        ("GET", "/api/suites"): Try("GET", "/api/suites", params=p),
        ("GET", "/api/suites/{suite_id}"): Try("GET", f"/api/suites/{h.suite_id}"),
        ("GET", "/api/suites/{suite_id}/runs"): Try("GET", f"/api/suites/{h.suite_id}/runs"),
        ("POST", "/api/suites/{suite_id}/runs"): Try("POST", f"/api/suites/{h.suite_id}/runs"),
        ("GET", "/api/eval-runs/{run_id}"): Try("GET", f"/api/eval-runs/{r[1]}"),
        ("GET", "/api/eval-runs/{run_id}/scores"): Try("GET", f"/api/eval-runs/{r[1]}/scores"),
        ("POST", "/api/scores"): Try(
            "POST", "/api/scores", json={"trace_id": t, "name": "x", "passed": True}
        ),
        ("POST", "/api/datasets"): Try(
            "POST",
            "/api/datasets",
            content=b'{"input": "x", "expected_output": "y"}\n',
            params={**p, "name": h.dataset, "format": "jsonl"},
        ),
        ("GET", "/api/datasets"): Try("GET", "/api/datasets", params=p),
        ("GET", "/api/datasets/{name}/items"): Try(
            "GET", f"/api/datasets/{h.dataset}/items", params=p
        ),
        ("GET", "/api/eval-runs/{b}/compare"): Try(
            "GET", f"/api/eval-runs/{r[1]}/compare", params={"against": str(r[0])}
        ),
        ("GET", "/api/eval-runs/{b}/compare.csv"): Try(
            "GET", f"/api/eval-runs/{r[1]}/compare.csv", params={"against": str(r[0])}
        ),
        ("POST", "/api/prices"): Try(
            "POST", "/api/prices", json={**price, "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}
        ),
        ("GET", "/api/prices"): Try("GET", "/api/prices", params=p),
        ("DELETE", "/api/prices/{price_id}"): Try("DELETE", f"/api/prices/{h.price_id}"),
        ("POST", "/api/reprice"): Try("POST", "/api/reprice", json=p),
        ("GET", "/api/reprice"): Try("GET", "/api/reprice"),
        ("POST", "/api/budgets"): Try("POST", "/api/budgets", json={**budget, "limit_usd": 1}),
        ("GET", "/api/budgets"): Try("GET", "/api/budgets", params=p),
        ("DELETE", "/api/budgets/{budget_id}"): Try("DELETE", f"/api/budgets/{h.budget_id}"),
        ("GET", "/api/runaways"): Try("GET", "/api/runaways", params=p),
        ("GET", "/api/schedules"): Try("GET", "/api/schedules", params=p),
        ("PATCH", "/api/suites/{suite_id}"): Try(
            "PATCH", f"/api/suites/{h.suite_id}", json={"enabled": False}
        ),
        ("POST", "/api/suites/{suite_id}/jobs"): Try("POST", f"/api/suites/{h.suite_id}/jobs"),
        ("GET", "/api/suites/{suite_id}/jobs"): Try("GET", f"/api/suites/{h.suite_id}/jobs"),
        ("PUT", "/api/known-good"): Try("PUT", "/api/known-good", json=mark),
        ("GET", "/api/known-good"): Try("GET", "/api/known-good", params=p),
        ("DELETE", "/api/known-good"): Try(
            "DELETE", "/api/known-good", params={**p, "agent": h.agent}
        ),
        ("POST", "/api/alert-rules"): Try("POST", "/api/alert-rules", json=rule),
        ("GET", "/api/alert-rules"): Try("GET", "/api/alert-rules", params=p),
        ("DELETE", "/api/alert-rules/{rule_id}"): Try("DELETE", f"/api/alert-rules/{h.rule_id}"),
        ("GET", "/api/alerts"): Try("GET", "/api/alerts", params=p),
        ("POST", "/api/alerts/{alert_id}/acknowledge"): Try(
            "POST", f"/api/alerts/{h.alert_id}/acknowledge"
        ),
        ("GET", "/api/drift"): Try("GET", "/api/drift", params={**p, "agent": h.agent}),
        ("GET", "/api/drift.csv"): Try("GET", "/api/drift.csv", params={**p, "agent": h.agent}),
        ("GET", "/api/suites/{suite_id}/drift"): Try("GET", f"/api/suites/{h.suite_id}/drift"),
        ("GET", "/api/traces"): Try("GET", "/api/traces", params=p),
        ("GET", "/api/traces/{trace_id}"): Try("GET", f"/api/traces/{t}", params=p),
        ("GET", "/"): Try("GET", "/", params=p),
        ("GET", "/overview.csv"): Try("GET", "/overview.csv", params={**p, "table": "groups"}),
        ("GET", "/traces"): Try("GET", "/traces", params=p),
        ("GET", "/traces/{trace_id}"): Try("GET", f"/traces/{t}", params=p),
        ("GET", "/traces/{trace_id}/spans/{span_id}"): Try(
            "GET", f"/traces/{t}/spans/{h.span_id}", params=p
        ),
        ("GET", "/traces/{trace_id}/spans/{span_id}/value"): Try(
            "GET", f"/traces/{t}/spans/{h.span_id}/value", params={**p, "path": '["name"]'}
        ),
        ("GET", "/traces/{trace_id}/value"): Try(
            "GET", f"/traces/{t}/value", params={**p, "path": '["input"]'}
        ),
        ("GET", "/sessions"): Try("GET", "/sessions", params=p),
        ("GET", "/sessions.csv"): Try("GET", "/sessions.csv", params=p),
        ("GET", "/sessions/{session_id:anytext}"): Try(
            "GET", f"/sessions/{quote(h.session, safe='')}", params=p
        ),
        ("GET", "/compare"): Try("GET", "/compare", params={"a.project": h.project}),
        ("GET", "/compare.csv"): Try("GET", "/compare.csv", params={"b.project": h.project}),
        ("GET", "/evals/schedules"): Try("GET", "/evals/schedules", params=p),
        ("POST", "/evals/schedules/{suite_id}/run"): Try(
            "POST", f"/evals/schedules/{h.suite_id}/run", form={}
        ),
        ("POST", "/evals/schedules/{suite_id}/enable"): Try(
            "POST", f"/evals/schedules/{h.suite_id}/enable", form={}
        ),
        ("POST", "/evals/schedules/{suite_id}/disable"): Try(
            "POST", f"/evals/schedules/{h.suite_id}/disable", form={}
        ),
        ("GET", "/drift"): Try("GET", "/drift", params={**p, "agent": h.agent}),
        ("GET", "/evals"): Try("GET", "/evals", params=p),
        ("POST", "/evals/suites"): Try(
            "POST", "/evals/suites", form={**p, "definition": _suite(h.project)}
        ),
        ("POST", "/evals/suites/{suite_id}/run"): Try(
            "POST", f"/evals/suites/{h.suite_id}/run", form={}
        ),
        ("GET", "/evals/suites/{suite_id}"): Try("GET", f"/evals/suites/{h.suite_id}"),
        ("GET", "/evals/runs/{run_id}"): Try("GET", f"/evals/runs/{r[1]}"),
        ("GET", "/evals/runs/{run_id}/charts"): Try("GET", f"/evals/runs/{r[1]}/charts"),
        ("GET", "/evals/runs/{run_id}/progress"): Try("GET", f"/evals/runs/{r[1]}/progress"),
        ("GET", "/evals/compare"): Try(
            "GET", "/evals/compare", params={"a": str(r[0]), "b": str(r[1])}
        ),
        ("GET", "/settings/prices"): Try("GET", "/settings/prices", params=p),
        ("POST", "/settings/prices"): Try("POST", "/settings/prices", form=price),
        ("POST", "/settings/prices/{price_id}/delete"): Try(
            "POST", f"/settings/prices/{h.price_id}/delete", form={}
        ),
        ("POST", "/settings/prices/reprice"): Try(
            "POST", "/settings/prices/reprice", form={**p, "scope": "project"}
        ),
        ("GET", "/settings/prices/reprice"): Try("GET", "/settings/prices/reprice"),
        ("GET", "/settings/budgets"): Try("GET", "/settings/budgets", params=p),
        ("POST", "/settings/budgets"): Try("POST", "/settings/budgets", form=budget),
        ("POST", "/settings/budgets/{budget_id}/delete"): Try(
            "POST", f"/settings/budgets/{h.budget_id}/delete", form={}
        ),
        ("GET", "/settings/keys"): Try("GET", "/settings/keys", params=p),
        ("POST", "/settings/keys"): Try(
            "POST", "/settings/keys", form={**p, "name": "stolen", "scope_ingest": "1"}
        ),
        ("POST", "/settings/keys/{key_id}/revoke"): Try(
            "POST", f"/settings/keys/{h.key_id}/revoke", form={}
        ),
        ("POST", "/known-good"): Try("POST", "/known-good", form=mark),
        ("GET", "/alerts"): Try("GET", "/alerts", params=p),
        ("POST", "/alerts/{alert_id}/acknowledge"): Try(
            "POST", f"/alerts/{h.alert_id}/acknowledge", form={}
        ),
        ("POST", "/alerts/rules"): Try("POST", "/alerts/rules", form=rule),
        ("POST", "/alerts/rules/{rule_id}/delete"): Try(
            "POST", f"/alerts/rules/{h.rule_id}/delete", form={}
        ),
    }
    return table
