"""What the retention tests share (``test_retention.py``, ``test_retention_schedule.py``,
``test_partitioning.py``): a server with a store of its own, agent runs of chosen ages
with every row that hangs off a trace, those rows read back whole, and
``reasonlens retention`` run in this process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from typer.testing import CliRunner

from reasonlens import cli
from store.models import LogRecord, Project, Runaway, Score, Span, SpanCost, Trace
from tests.databases import fresh_database
from tests.otlp import LogSpec, logs_request, post_logs
from tests.server import Server

DAY = 86_400 * 1_000_000_000
LLM = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
}


@contextmanager
def retention_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a store of its own: a run for every project must touch no other
    test's traces. Its scheduled retention deletes traces older than 30 days, looked at
    every second."""
    env = {"REASONLENS_RETENTION_DAYS": "30", "REASONLENS_RETENTION_INTERVAL_SECONDS": "1"}
    with fresh_database(tmp_path_factory.mktemp("retention")) as url:
        running = Server(url, env=env).start()
        try:
            yield running
        finally:
            running.close()


def send_traces(
    server: Server, project: str, ages_days: list[float], *, whole: bool = True
) -> list[str]:
    """One agent run per age through the OpenTelemetry SDK, each with a model call
    (priced: a span cost) and a tool call, and when ``whole`` a GenAI log event, a human
    score and a runaway flag; the trace ids, in order."""
    provider = TracerProvider(resource=Resource({"service.name": "retention"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))  # one export at shutdown
    tracer = provider.get_tracer("retention")
    trace_ids, logs = [], []
    for age in ages_days:
        start = time.time_ns() - int(age * DAY)
        root = tracer.start_span("invoke_agent shop", start_time=start)
        root.set_attribute("gen_ai.agent.name", "shop")
        context = root.get_span_context()
        trace_id = f"{context.trace_id:032x}"
        parent = otel_trace.set_span_in_context(root)
        call = tracer.start_span(
            "chat gpt-4o", context=parent, attributes=LLM, start_time=start + 1000
        )
        call.end(end_time=start + 2_000_000)
        tool = tracer.start_span(
            "execute_tool refund",
            context=parent,
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund"},
            start_time=start + 3_000_000,
        )
        tool.end(end_time=start + 4_000_000)
        root.end(end_time=start + 5_000_000)
        logs.append(
            LogSpec(
                "gen_ai.user.message",
                body={"content": f"refund order {age}"},
                trace_id=trace_id,
                span_id=f"{call.get_span_context().span_id:016x}",
                time=start + 1500,
            )
        )
        trace_ids.append(trace_id)
    provider.shutdown()
    if not whole:  # the scheduled retention may have deleted them already
        return trace_ids
    assert post_logs(server.url, logs_request(logs), project=project).status_code == 200
    for trace_id in trace_ids:
        score = {"trace_id": trace_id, "name": "helpful", "passed": True, "project": project}
        assert httpx.post(f"{server.url}/api/scores", json=score).status_code == 201
    with server.engine.begin() as connection:
        project_id = connection.scalars(sa.select(Project.id).where(Project.name == project)).one()
        connection.execute(
            sa.insert(Runaway),
            [
                {
                    "project_id": project_id,
                    "trace_id": trace_id,
                    "baseline": "agent",
                    "name": "shop",
                    "flagged_at": datetime.now(UTC),
                    "steps": 2,
                    "tokens": 1500,
                    "steps_limit": 1.0,
                    "tokens_limit": 100.0,
                    "baseline_traces": 20,
                }
                for trace_id in trace_ids
            ],
        )
    return trace_ids


Rows = dict[str, list[dict[str, Any]]]


def rows(server: Server, project: str) -> Rows:
    """Every row of the project in every table that hangs off a trace, whole."""
    of_project = sa.select(Project.id).where(Project.name == project).scalar_subquery()
    spans, costs = Span.__table__, SpanCost.__table__
    tables: dict[str, sa.Select[Any]] = {
        "traces": sa.select(Trace.__table__).where(Trace.project_id == of_project),
        "spans": sa.select(spans).where(spans.c.project_id == of_project),
        "span_costs": sa.select(costs, spans.c.trace_id)
        .join(spans, spans.c.id == costs.c.span_pk)
        .where(spans.c.project_id == of_project),
        "log_records": sa.select(LogRecord.__table__).where(LogRecord.project_id == of_project),
        "scores": sa.select(Score.__table__).where(Score.project_id == of_project),
        "runaways": sa.select(Runaway.__table__).where(Runaway.project_id == of_project),
    }
    with server.engine.connect() as connection:
        return {
            name: sorted(
                (dict(row) for row in connection.execute(query).mappings()),
                key=lambda row: str(sorted(row.items())),
            )
            for name, query in tables.items()
        }


def of_traces(found: Rows, trace_ids: set[str]) -> dict[str, int]:
    """How many rows of each table belong to these traces."""
    return {
        name: sum(row["trace_id"] in trace_ids for row in table) for name, table in found.items()
    }


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def retention(server: Server, *options: str) -> Ran:
    """The command, in this process (Typer's runner): a process each costs seconds."""
    result = CliRunner().invoke(
        cli.app, ["retention", *options, "--db", server.database_url], catch_exceptions=False
    )
    return Ran(result.exit_code, result.stdout, result.stderr)
