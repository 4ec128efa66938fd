"""Project alerts on the real server: budgets over (or heading over) their limit and
runaway traces, raised by the checker thread once each, and posted to the webhook; and
the run rules' pure readings (cost floors, drift reports, backoff)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from evals.alerts.delivery import MAX_DELAY_S, retry_delay
from evals.alerts.runs import FinishedRun, cost_per_trace, drifted_metrics
from store.alert_rules import StoredRule
from tests.alerting import (
    PUBLIC_URL,
    RUNAWAY_MIN_TRACES,
    Agent,
    Receiver,
    add_rule,
    project_alerts,
    send,
    wait_until,
)
from tests.server import Server

CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "m",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 20,
}


def test_budgets_over_or_heading_over_raise_one_alert_each(
    alert_server: Server, receiver: Receiver, project: str
) -> None:
    send(alert_server, project, [Agent(steps=1, cost=1.0)] * 3)  # $3 today
    for period, limit in (("day", 0.5), ("month", 3.5), ("trace", 100.0)):
        response = httpx.post(
            f"{alert_server.url}/api/budgets",
            json={"project": project, "period": period, "limit_usd": limit},
        )
        assert response.status_code == 201, response.text
    rule = add_rule(alert_server, project=project, name="spend", kind="budget",
                    webhook_url=receiver.script(project, 200))  # fmt: skip

    statuses = httpx.get(f"{alert_server.url}/api/budgets", params={"project": project}).json()
    expected = {(b["id"], b["status"]["state"]) for b in statuses["budgets"]}
    expected = {(budget, state) for budget, state in expected if state != "ok"}
    assert expected  # the day budget at least is over

    def raised() -> list[dict[str, Any]] | None:
        found = project_alerts(alert_server, project)
        return found if len(found) >= len(expected) else None

    found = wait_until(raised)
    assert {(a["figures"]["budget_id"], a["figures"]["state"]) for a in found} == expected
    day = next(a for a in found if a["figures"]["period"] == "day")
    assert day["kind"] == "budget" and day["rule"]["id"] == rule["id"]
    assert day["title"] == "Budget of the project per day ($0.50): spent $3.00, over the limit"
    assert day["link"] == f"/settings/budgets?project={project}"
    posts = receiver.wait_for(project, len(expected))
    assert {post.body["link"] for post in posts} == {f"{PUBLIC_URL}{day['link']}"}
    time.sleep(1.0)  # three more checks: still one alert per budget and state
    assert len(project_alerts(alert_server, project)) == len(expected)
    assert len(receiver.of(project)) == len(expected)


def _tracer(server: Server, project: str) -> tuple[TracerProvider, Any]:
    # The service send() names: until the agent's own span ends, its service judges it.
    provider = TracerProvider(resource=Resource({"service.name": "alerts-test"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("looper")


def test_a_runaway_trace_raises_an_alert_while_it_runs(
    alert_server: Server, receiver: Receiver, project: str
) -> None:
    rule = add_rule(alert_server, project=project, name="loops", kind="runaway",
                    webhook_url=receiver.script(project, 200))  # fmt: skip
    send(alert_server, project, [Agent(steps=3, agent="looper")] * (RUNAWAY_MIN_TRACES + 2))
    time.sleep(1.0)  # past the baseline's refresh

    provider, tracer = _tracer(alert_server, project)
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "looper"}
    with tracer.start_as_current_span("invoke_agent looper", attributes=agent) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        for _ in range(30):  # each call exported as it ends
            with tracer.start_as_current_span("chat", attributes=CALL):
                pass
        (post,) = receiver.wait_for(project, 1)
    provider.shutdown()

    body = post.body
    assert body["kind"] == "runaway" and body["trace_id"] == trace_id
    assert body["rule"]["id"] == rule["id"] and body["run"] is None
    assert body["link"] == f"{PUBLIC_URL}/traces/{trace_id}?project={project}"
    assert body["figures"]["steps"] > body["figures"]["steps_limit"]
    assert body["title"].startswith("Runaway trace of ")
    time.sleep(0.7)  # the trace grew after its flag: still one alert
    assert len(project_alerts(alert_server, project)) == 1


def _run(selection: dict[str, Any]) -> FinishedRun:
    return FinishedRun(1, 1, 1, "gate", "passed", {"selection": selection})


RULE = StoredRule(1, 1, "cost", "cost_per_trace", 1, "gate", 0.10, None, True, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selection", "alerted", "floor"),
    [
        ({"traces": 10, "priced_cost_usd": 2.0, "unpriced_traces": 0}, True, False),
        ({"traces": 10, "priced_cost_usd": 0.5, "unpriced_traces": 0}, False, None),
        # Unpriced traces: $2 over 10 traces is at least $0.20 a trace, over the limit.
        ({"traces": 10, "priced_cost_usd": 2.0, "unpriced_traces": 4}, True, True),
        # $0.50 over 10 traces is at least $0.05: unknown, so no alert on a guess.
        ({"traces": 10, "priced_cost_usd": 0.5, "unpriced_traces": 4}, False, None),
        ({"traces": 10, "priced_cost_usd": None, "unpriced_traces": 10}, False, None),
        ({"traces": 0, "priced_cost_usd": None, "unpriced_traces": 0}, False, None),
    ],
)
def test_cost_per_trace_alerts_on_a_known_figure_or_a_floor_already_over(
    selection: dict[str, Any], alerted: bool, floor: bool | None
) -> None:
    finding = cost_per_trace(_run(selection), RULE)
    assert (finding is not None) == alerted
    if finding is not None:
        assert finding.figures["floor"] is floor
        assert ("at least" in finding.title) is floor


@pytest.mark.parametrize(
    ("extra", "drifted"),
    [
        (
            [{"metric": "latency", "drifted": True}, {"metric": "cost", "drifted": False}],
            ["latency"],
        ),
        (
            {"metrics": [{"name": "tools", "drifted": True}, {"name": "x", "drifted": None}]},
            ["tools"],
        ),
        (None, []),
        ("not a report", []),
        ([{"metric": "cost", "drifted": "yes"}], []),  # only a True verdict counts
    ],
)
def test_drifted_metrics_read_the_drift_report(extra: Any, drifted: list[str]) -> None:
    assert drifted_metrics({"evaluators": {"drift": {"extra": extra}}}) == drifted
    assert drifted_metrics({}) == []


def test_retries_back_off_exponentially_up_to_an_hour() -> None:
    assert [retry_delay(n, 30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(40, 30) == timedelta(seconds=MAX_DELAY_S)
