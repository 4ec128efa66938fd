"""Success is what the agent says of its task (reasonlens.outcome), its status second."""

from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode
from sqlalchemy.orm import Session

from collector.normalize.outcome import as_outcome
from evals.summary import succeeded
from store.analytics.figures import window_between
from store.analytics.overview import overview
from store.projects import project_id
from tests.server import Server

PROJECT = "outcomes"
CALL = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "llm.cost.total": 0.25}
# name: (root status error?, the outcome each span says: root's, the call's)
TRACES = {
    "said failure, no error": (False, ("failure", None)),
    "said success despite an error": (True, (None, "success")),
    "said nothing, ok": (False, (None, None)),
    "said nothing, error": (True, (None, None)),
    "one span says failure": (False, ("success", "failed")),
}


def _send(server: Server) -> dict[str, str]:
    provider = TracerProvider(resource=Resource({"service.name": "outcomes"}))
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": PROJECT}
            )
        )
    )
    tracer = provider.get_tracer("outcome-test")
    ids = {}
    for name, (error, (root_says, call_says)) in TRACES.items():
        root_attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}
        if root_says:
            root_attributes["reasonlens.outcome"] = root_says
        with tracer.start_as_current_span(name, attributes=root_attributes) as root:
            ids[name] = format(root.get_span_context().trace_id, "032x")
            call = {**CALL, **({"reasonlens.outcome": call_says} if call_says else {})}
            with tracer.start_as_current_span("chat gpt-4o", attributes=call):
                pass
            if error:
                root.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return ids


def test_the_agents_outcome_decides_success_and_cost_per_success(server: Server) -> None:
    began = time.time_ns()
    ids = _send(server)
    listed = httpx.get(f"{server.url}/api/traces", params={"project": PROJECT}).json()
    outcome = {trace["trace_id"]: trace["outcome"] for trace in listed["traces"]}
    assert [outcome[ids[name]] for name in TRACES] == [
        "failure", "success", None, None, "failure"
    ]  # fmt: skip

    with Session(server.engine) as session:
        found = project_id(session.connection(), PROJECT)
        assert found is not None
        stats = overview(session, found, window_between(began, time.time_ns() + 10**9)).totals
    # Successes: "said success despite an error" and "said nothing, ok".
    assert (stats.traces, stats.errors, stats.successes) == (5, 2, 2)
    assert stats.cost_per_success == pytest.approx(5 * 0.25 / 2)


def test_eval_runs_count_successes_the_same_way() -> None:
    traces = pd.DataFrame(
        {
            "outcome": ["failure", "success", None, None],
            "status": ["ok", "error", "ok", "error"],
        }
    )
    assert succeeded(traces).tolist() == [False, True, True, False]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Success", "success"), (" passed ", "success"), ("FAILED", "failure"), (True, "success"),
     (False, "failure"), ("maybe", None), (1, None)],
)  # fmt: skip
def test_outcome_spellings(value: object, expected: str | None) -> None:
    assert as_outcome(value) == expected
