"""Runaway traces: flagged while still arriving, against their own agent's baseline."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import migrations
from collector.runaway import STEPS_MARGIN, TOKENS_MARGIN, baselines
from store.engine import create_engine
from store.models import Project, Runaway, Trace
from store.projects import ensure_projects
from store.runaways import IDS_PER_QUERY, usage_of
from tests.databases import fresh_database
from tests.server import Server

PROJECT = "runaways"
AGENT = {"gen_ai.operation.name": "invoke_agent"}
CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}
BASELINE_TRACES = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: baselines recomputed every half second, judged from 8 traces."""
    env = {
        "REASONLENS_RUNAWAY_REFRESH_SECONDS": "0.5",
        "REASONLENS_RUNAWAY_MIN_TRACES": str(BASELINE_TRACES),
    }
    with fresh_database(tmp_path_factory.mktemp("runaway")) as url:
        running = Server(url, env=env).start()
        try:
            yield running
        finally:
            running.close()


def _tracer(server: Server, agent: str) -> tuple[TracerProvider, object]:
    provider = TracerProvider(resource=Resource({"service.name": f"{agent}-service"}))
    provider.add_span_processor(
        SimpleSpanProcessor(  # each span exported as it ends: the trace arrives in parts
            OTLPSpanExporter(
                endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": PROJECT}
            )
        )
    )
    return provider, provider.get_tracer("runaway-test")


def _normal_traces(server: Server, agent: str, count: int) -> None:
    provider, tracer = _tracer(server, agent)
    for _ in range(count):
        with tracer.start_as_current_span(  # type: ignore[attr-defined]
            f"invoke_agent {agent}", attributes={**AGENT, "gen_ai.agent.name": agent}
        ):
            for _ in range(3):
                with tracer.start_as_current_span("chat gpt-4o", attributes=CALL):  # type: ignore[attr-defined]
                    pass
    provider.shutdown()


def _flags(server: Server) -> dict[str, Runaway]:
    with server.engine.connect() as connection:
        project = sa.select(Project.id).where(Project.name == PROJECT).scalar_subquery()
        rows = connection.execute(sa.select(Runaway).where(Runaway.project_id == project))
        return {row.trace_id: row for row in rows}


def _root_arrived(server: Server, trace_id: str) -> bool:
    with server.engine.connect() as connection:
        root = connection.execute(
            sa.select(Trace.root_span_id).where(Trace.trace_id == trace_id)
        ).scalar_one()
    return root is not None


def test_a_looping_trace_is_flagged_before_it_ends(server: Server) -> None:
    _normal_traces(server, "shopper", BASELINE_TRACES + 2)
    _normal_traces(server, "newcomer", 2)  # too few traces for a baseline
    time.sleep(1.0)  # past the baseline refresh

    provider, tracer = _tracer(server, "shopper")
    flagged_while_open = None
    with tracer.start_as_current_span(  # type: ignore[attr-defined]
        "invoke_agent shopper", attributes={**AGENT, "gen_ai.agent.name": "shopper"}
    ) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        # 40 model calls where the agent takes 3, and on, as a loop goes on: on a loaded
        # machine the baseline's refresh may come after the first 40 have been judged.
        calls, deadline = 0, time.monotonic() + 60
        while calls < 40 or (trace_id not in _flags(server) and time.monotonic() < deadline):
            for _ in range(10):
                with tracer.start_as_current_span("chat gpt-4o", attributes=CALL):  # type: ignore[attr-defined]
                    pass
            calls += 10
            time.sleep(0.2 if calls >= 40 else 0)
        flagged_while_open = trace_id in _flags(server) and not _root_arrived(server, trace_id)
    provider.shutdown()
    assert flagged_while_open, "the trace was not flagged while its root span was open"

    flag = _flags(server)[trace_id]
    # Its agent span had not arrived: judged against the service's traces.
    assert (flag.baseline, flag.name) == ("service", "shopper-service")
    # The service's ten traces, and this one as far as it had come at a refresh.
    assert flag.baseline_traces in (BASELINE_TRACES + 2, BASELINE_TRACES + 3)
    # Steps are model and tool calls: 3 per normal trace, so a limit of 3 + margin; a
    # baseline refreshed while the loop went on also counts the loop so far (higher).
    alone = flag.baseline_traces == BASELINE_TRACES + 2
    limits = (3 + STEPS_MARGIN, 3 * 1100 + TOKENS_MARGIN)
    if alone:
        assert (flag.steps_limit, flag.tokens_limit) == limits
    else:
        assert flag.steps_limit >= limits[0] and flag.tokens_limit >= limits[1]
    assert flag.steps > flag.steps_limit

    # Normal traces, and a loop of an agent without a baseline yet, are not flagged.
    _normal_traces(server, "shopper", 3)
    provider, tracer = _tracer(server, "newcomer")
    with tracer.start_as_current_span(  # type: ignore[attr-defined]
        "invoke_agent newcomer", attributes={**AGENT, "gen_ai.agent.name": "newcomer"}
    ):
        for _ in range(40):
            with tracer.start_as_current_span("chat gpt-4o", attributes=CALL):  # type: ignore[attr-defined]
                pass
    provider.shutdown()
    time.sleep(1.0)
    assert list(_flags(server)) == [trace_id]

    listed = httpx.get(f"{server.url}/api/runaways", params={"project": PROJECT}).json()
    assert [item["trace_id"] for item in listed["runaways"]] == [trace_id]
    assert listed["runaways"][0]["steps_limit"] == 3 + STEPS_MARGIN
    detail = httpx.get(f"{server.url}/api/traces/{trace_id}").json()
    assert detail["runaway"]["steps"] == flag.steps
    page = httpx.get(f"{server.url}/traces/{trace_id}").text
    assert ">runaway</span>" in page and "service <strong>shopper-service</strong>" in page
    assert f"{flag.steps} steps (limit 13)" in page
    overview = httpx.get(f"{server.url}/", params={"project": PROJECT}).text
    assert "Runaway traces" in overview and f"{flag.steps} / 13" in overview


def test_api_runaways_of_an_unknown_project_is_empty(server: Server) -> None:
    listed = httpx.get(f"{server.url}/api/runaways", params={"project": "no-such"})
    assert listed.status_code == 200 and listed.json() == {"runaways": []}


def test_limits_are_a_multiple_of_the_p95_with_a_margin() -> None:
    small = [(1, "a", "svc", 2, 100)] * 20  # p95: 2 steps, 100 tokens
    large = [(1, "b", None, 50, 400_000)] * 20
    found = baselines([*small, *large, (1, "c", "svc", 9, 9)], factor=3.0, min_traces=20)
    # c has one trace; the service's 21 traces are mostly a's.
    assert set(found) == {(1, "agent", "a"), (1, "agent", "b"), (1, "service", "svc")}
    a, b = found[(1, "agent", "a")], found[(1, "agent", "b")]
    assert a.steps_limit == 2 + STEPS_MARGIN  # the margin, above 3 x 2
    assert a.tokens_limit == 100 + TOKENS_MARGIN
    assert b.steps_limit == 150 and b.tokens_limit == 1_200_000


def test_the_touched_traces_are_read_however_many(fresh_db: str) -> None:
    """A burst of writes may touch more traces than a query may bind values."""
    engine = create_engine(fresh_db)
    migrations.upgrade(engine)
    count = 2 * IDS_PER_QUERY + 5
    with engine.begin() as connection:
        ids = ensure_projects(connection, ["burst"])
        connection.execute(
            sa.insert(Trace),
            [
                {
                    "project_id": ids["burst"], "trace_id": f"{n:032x}", "agent_name": "a",
                    "start_time_ns": n, "end_time_ns": n, "duration_ns": 0, "status": "ok",
                    "error_count": 0, "span_count": 1, "llm_call_count": n % 7,
                    "tool_call_count": 1, "input_tokens": 1, "output_tokens": 1,
                    "reasoning_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0,
                }
                for n in range(count)
            ],
        )  # fmt: skip
    with engine.connect() as connection:
        found = usage_of(connection, ids, {"burst": {f"{n:032x}" for n in range(count)}})
    engine.dispose()
    assert len(found) == count
    assert {trace.steps for trace in found} == {n % 7 + 1 for n in range(7)}
