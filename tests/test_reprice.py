"""``reasonlens reprice``: stored costs recomputed at today's prices, spans and traces
together, in one project or all, and a second run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from store.models import Project, Span, SpanCost, Trace
from tests.server import Server
from tests.stored_costs import forget_computed_costs

CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.usage.input_tokens": 2000,
    "gen_ai.usage.cache_read.input_tokens": 500,
    "gen_ai.usage.output_tokens": 300,
}
PROJECTS = ("reprice-a", "reprice-b")


def _send(server: Server, project: str) -> None:
    provider = TracerProvider(resource=Resource({"service.name": "reprice"}))
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
            )
        )
    )
    tracer = provider.get_tracer("reprice")
    for models in (["gpt-4o", "gpt-4o-mini"], ["gpt-4o", "in-house-llm"], ["gpt-4.1"]):
        with tracer.start_as_current_span("invoke_agent shop"):
            for model in models:
                with tracer.start_as_current_span(
                    f"chat {model}", attributes={**CALL, "gen_ai.request.model": model}
                ):
                    pass
    provider.shutdown()


def _costs(server: Server, project: str) -> dict[str, Any]:
    with server.engine.connect() as connection:
        of_project = sa.select(Project.id).where(Project.name == project).scalar_subquery()
        spans = connection.execute(
            sa.select(
                Span.span_id, SpanCost.cost_usd, SpanCost.computed_cost_usd,
                SpanCost.cost_source, SpanCost.price_key,
            )
            .join(Span, Span.id == SpanCost.span_pk)
            .where(Span.project_id == of_project)
        ).all()  # fmt: skip
        traces = connection.execute(
            sa.select(Trace.trace_id, Trace.cost_usd, Trace.unpriced_count).where(
                Trace.project_id == of_project
            )
        ).all()
    return {"spans": sorted(map(tuple, spans)), "traces": sorted(map(tuple, traces))}


def _forget_costs(server: Server, project: str) -> None:
    """As a store upgraded from before costs were computed holds them."""
    with server.engine.begin() as connection:
        of_project = sa.select(Project.id).where(Project.name == project).scalar_subquery()
        of_spans = sa.select(Span.id).where(Span.project_id == of_project)
        forget_computed_costs(connection, SpanCost.span_pk.in_(of_spans))
        connection.execute(
            sa.update(Trace)
            .where(Trace.project_id == of_project)
            .values(cost_usd=None, unpriced_count=0)
        )


def _reprice(server: Server, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reasonlens", "reprice", *options, "--db", server.database_url],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _same(costs: dict[str, Any], expected: dict[str, Any]) -> None:
    """Span costs exactly; trace sums to the last bits (re-pricing sums exactly rounded,
    the rollup's SQL SUM in its own order)."""
    assert costs["spans"] == expected["spans"]
    assert [(t, n) for t, _, n in costs["traces"]] == [(t, n) for t, _, n in expected["traces"]]
    for (_, cost, _), (_, want, _) in zip(costs["traces"], expected["traces"], strict=True):
        assert cost == pytest.approx(want, rel=1e-12) if want is not None else cost is None


@pytest.fixture(scope="module")
def priced(server: Server) -> dict[str, dict[str, Any]]:
    """The costs ingest gave both projects; then forgotten, as before re-pricing."""
    for project in PROJECTS:
        _send(server, project)
    costs = {project: _costs(server, project) for project in PROJECTS}
    for project in PROJECTS:
        _forget_costs(server, project)
    return costs


def test_reprice_restores_what_ingest_computed_in_one_project_only(
    server: Server, priced: dict[str, dict[str, Any]]
) -> None:
    a, b = PROJECTS
    sources = [source for _, _, _, source, _ in priced[a]["spans"]]
    assert sources.count("computed") == 4 and sources.count("unpriced") == 1
    assert sorted(trace[2] for trace in priced[a]["traces"]) == [0, 0, 1]

    done = _reprice(server, "--since", "1d", "--project", a)
    assert done.returncode == 0, done.stderr
    assert "re-priced 5 model calls in project reprice-a" in done.stdout
    assert "5 changed, 3 trace costs recomputed" in done.stdout
    _same(_costs(server, a), priced[a])
    assert _costs(server, b)["spans"] == []  # no client reported a cost

    again = _reprice(server, "--since", "1d", "--project", a)
    assert again.returncode == 0 and "0 changed, 0 trace costs" in again.stdout
    everywhere = _reprice(server)
    assert everywhere.returncode == 0, everywhere.stderr
    _same(_costs(server, b), priced[b])


@pytest.mark.usefixtures("priced")
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not a time"),
        (["--project", "no-such-project"], "no project 'no-such-project'"),
    ],
)
def test_bad_options_exit_2_and_change_nothing(
    server: Server, options: list[str], message: str
) -> None:
    before = {project: _costs(server, project) for project in PROJECTS}
    done = _reprice(server, *options)
    assert done.returncode == 2 and message in done.stderr
    assert {project: _costs(server, project) for project in PROJECTS} == before
