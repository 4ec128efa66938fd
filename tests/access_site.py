"""Two projects, each with one of everything a route can name, sent the way users do.

Built in local mode (no users yet): traces through the real OpenTelemetry SDK, then
through the API a suite run, an alert rule, a score, a budget, a price, a known-good
mark and a dataset; an alert and an API key straight in the store. Everything of the
second project carries ``SECRET`` in its text, so a response that shows any of it
to the first project's principals is caught by a substring search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from store import api_keys
from store.alerts import NewAlert, raise_alert
from store.models import EvalSuite
from store.projects import project_id
from tests.alerting import run_suite, wait_until
from tests.databases import fresh_database
from tests.server import Server

# Servers of the access tests trust a checked key or session this long (seconds), so
# that a revocation shows within a test.
CREDENTIALS_TTL = {"REASONLENS_CREDENTIALS_TTL_SECONDS": "0.05"}
# The scheduler places a new schedule's next run at its first look: soon, so the
# holdings are settled before a test snapshots them (``_holdings``).
SCHEDULER = {"REASONLENS_SCHEDULER_INTERVAL_SECONDS": "0.2"}
OURS = "alpha"
SECRET = "zeta-secret"  # the other project's name, and in all of its text
THEIRS = SECRET


@dataclass(frozen=True)
class Holdings:
    """One project's ids, as the routes take them."""

    project: str
    trace_id: str
    span_id: str
    session: str
    suite_id: int
    run_ids: tuple[int, int]
    rule_id: int
    alert_id: int
    budget_id: int
    price_id: int
    key_id: int
    dataset: str
    agent: str


def _traces(server: Server, project: str) -> tuple[str, str]:
    provider = TracerProvider(resource=Resource({"service.name": f"svc-{project}"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("access")
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": f"agent-{project}",
        "gen_ai.agent.version": "1.0",
        "session.id": f"session-{project}",
    }
    with tracer.start_as_current_span(f"invoke_agent {project}", attributes=attributes) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        span_id = format(root.get_span_context().span_id, "016x")
        chat = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": f"model-{project}",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
        }
        with tracer.start_as_current_span(f"chat {project}", attributes=chat):
            pass
    provider.shutdown()
    return trace_id, span_id


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def holdings(server: Server, project: str) -> Holdings:
    trace_id, span_id = _traces(server, project)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        return _holdings(server, http, project, trace_id, span_id)


def _next_run(server: Server, suite_id: int) -> datetime | None:
    with server.engine.connect() as connection:
        return connection.scalar(sa.select(EvalSuite.next_run_at).where(EvalSuite.id == suite_id))


def _holdings(
    server: Server, http: httpx.Client, project: str, trace_id: str, span_id: str
) -> Holdings:
    agent = f"agent-{project}"
    definition = json.dumps(
        {
            "name": f"suite-{project}",
            "select": {"project": project},
            "schedule": "0 3 * * *",
            "evaluators": [{"step_budget": {"max_steps": 1}}],
            "thresholds": {"step_budget": {"pass_rate": 1}},
        }
    )
    suite_id = _ok(http.post("/api/suites", json={"definition": definition}))["id"]
    # The scheduler's first look at a new schedule places its next run: a change to the
    # suite's row that must be over before the tests snapshot the project's rows.
    wait_until(lambda: _next_run(server, suite_id) is not None)
    runs = (run_suite(server, suite_id)["id"], run_suite(server, suite_id)["id"])
    rule = {"project": project, "name": f"rule-{project}", "kind": "threshold_failed"}
    rule_id = _ok(http.post("/api/alert-rules", json={**rule, "suite_id": suite_id}))["id"]
    _ok(
        http.post(
            "/api/scores",
            json={"trace_id": trace_id, "project": project, "name": "ok", "passed": True},
        )
    )
    budget = {"project": project, "period": "day", "limit_usd": 5}
    budget_id = _ok(http.post("/api/budgets", json=budget))["id"]
    price = {
        "project": project,
        "model": f"model-{project}",
        "input_usd_per_mtok": 1,
        "output_usd_per_mtok": 2,
    }
    price_id = _ok(http.post("/api/prices", json=price))["id"]
    mark = {"project": project, "agent": agent, "version": "1.0", "note": f"good-{project}"}
    _ok(http.put("/api/known-good", json=mark))
    rows = json.dumps({"input": f"question-{project}", "expected_output": "answer"}) + "\n"
    dataset = f"data-{project}"
    _ok(
        http.post(
            "/api/datasets",
            params={"project": project, "name": dataset, "format": "jsonl"},
            content=rows.encode(),
        )
    )
    # The server's one re-pricing job: the last one, of the second project, stays shown.
    _ok(http.post("/api/reprice", json={"project": project}))
    wait_until(lambda: _ok(http.get("/api/reprice"))["status"] == "done")
    with server.engine.begin() as connection:
        pid = project_id(connection, project)
        assert pid is not None
        alert_id = raise_alert(
            connection,
            NewAlert(
                pid,
                rule_id,
                "threshold_failed",
                f"alert-{project}",
                {},
                "/alerts",
                f"dedupe-{project}",
                None,
            ),
            datetime.now(UTC),
        )
        assert alert_id is not None
        key = api_keys.create_key(connection, project, f"key-{project}", ["read"], actor="test")
    return Holdings(
        project,
        trace_id,
        span_id,
        f"session-{project}",
        suite_id,
        runs,
        rule_id,
        alert_id,
        budget_id,
        price_id,
        key.record.id,
        dataset,
        agent,
    )


@contextmanager
def short_ttl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own on a fresh database, with ``CREDENTIALS_TTL``."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env={**CREDENTIALS_TTL, **SCHEDULER}).start()
        try:
            yield running
        finally:
            running.close()
