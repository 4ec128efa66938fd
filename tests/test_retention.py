"""Retention: ``reasonlens retention`` and REASONLENS_RETENTION_DAYS delete old traces
with every row that hangs off them, leave the rest as it was, and let ingest go on."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
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
from store import periodic
from store.models import (
    AuditEntry,
    LogRecord,
    PeriodicTask,
    Project,
    Runaway,
    Score,
    Span,
    SpanCost,
    Trace,
)
from store.retention import _restore_returned
from store.retention_schedule import RetentionSchedule
from tests.databases import BACKEND, fresh_database
from tests.otlp import Ids, LogSpec, SpanSpec, logs_request, post, post_logs, request
from tests.server import Server

DAY = 86_400 * 1_000_000_000
LLM = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A store of this module's own: a run for every project must touch no other test's
    traces. Its scheduled retention (30 days, looked at every second) is what
    ``test_the_setting_deletes_on_a_schedule`` checks; the other tests' traces are
    younger than that."""
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


def overview_groups(server: Server, project: str) -> list[dict[str, str]]:
    response = httpx.get(
        f"{server.url}/overview.csv",
        params={"project": project, "table": "groups", "window": "30d"},
    )
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_old_traces_go_with_all_their_rows_and_the_rest_stays(server: Server) -> None:
    mine, other = "retention-a", "retention-b"
    old = send_traces(server, mine, [10, 9, 8])
    recent = send_traces(server, mine, [1, 0])
    send_traces(server, other, [10, 0])
    before = rows(server, mine)
    before_other = rows(server, other)
    assert of_traces(before, set(old)) == {
        "traces": 3, "spans": 9, "span_costs": 3, "log_records": 3, "scores": 3, "runaways": 3
    }  # fmt: skip
    assert len(before["span_costs"]) == 5  # every model call is priced
    assert overview_groups(server, mine)[0]["traces"] == "5"

    done = retention(server, "--older-than", "5d", "--project", mine, "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert "deleted 3 traces (9 spans, 3 log records, 3 scores) in project retention-a" in (
        done.stdout
    )
    assert "(2 batches)" in done.stdout

    after = rows(server, mine)
    assert of_traces(after, set(old)) == dict.fromkeys(of_traces(after, set(old)), 0)
    # What stays is exactly what was there: every column of every row.
    recent_ids = set(recent)
    assert {
        name: [row for row in found if row["trace_id"] in recent_ids]
        for name, found in before.items()
    } == after
    assert of_traces(after, recent_ids)["span_costs"] == 2
    assert rows(server, other) == before_other
    # The dashboard's figures are computed from what stays.
    listed = httpx.get(f"{server.url}/api/traces", params={"project": mine}).json()["traces"]
    assert sorted(trace["trace_id"] for trace in listed) == sorted(recent)
    groups = overview_groups(server, mine)
    assert [(group["traces"], group["tokens"]) for group in groups] == [("2", "3000")]
    with server.engine.connect() as connection:
        entry = connection.execute(
            sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).one()
    assert (entry.actor, entry.action, entry.target) == ("cli", "retention.delete", mine)
    assert entry.detail is not None and entry.detail["traces"] == 3

    again = retention(server, "--older-than", "5d", "--project", mine)
    assert again.returncode == 0 and "deleted 0 traces" in again.stdout
    assert rows(server, mine) == after


def test_a_dry_run_counts_and_deletes_nothing_then_every_project_goes(server: Server) -> None:
    projects = ("retention-dry-a", "retention-dry-b")
    old = {project: send_traces(server, project, [7, 6]) for project in projects}
    recent = {project: send_traces(server, project, [0.5]) for project in projects}
    before = {project: rows(server, project) for project in projects}

    dry = retention(server, "--older-than", "3d", "--project", projects[0], "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 2 traces (6 spans) in project retention-dry-a" in dry.stdout
    assert {project: rows(server, project) for project in projects} == before

    everywhere = retention(server, "--older-than", "3d")
    assert everywhere.returncode == 0, everywhere.stderr
    for project in projects:
        after = rows(server, project)
        assert of_traces(after, set(old[project]))["traces"] == 0
        assert of_traces(after, set(old[project]))["spans"] == 0
        assert [row["trace_id"] for row in after["traces"]] == recent[project]


def test_bad_options_exit_2_and_delete_nothing(server: Server) -> None:
    project = "retention-bad"
    send_traces(server, project, [9, 0])
    before = rows(server, project)
    for options, message in [
        (["--older-than", "30x"], "--older-than: '30x' is not a duration"),
        (["--older-than", "0d"], "would delete every trace"),
        (["--older-than", "1d", "--project", "no-such-project"], "no project 'no-such-project'"),
    ]:
        done = retention(server, *options)
        assert done.returncode == 2, (options, done.stdout, done.stderr)
        assert message in done.stderr
        assert "deleted" not in done.stdout
        assert rows(server, project) == before


def test_the_setting_deletes_on_a_schedule(server: Server) -> None:
    project = "retention-scheduled"
    old = send_traces(server, project, [45, 31], whole=False)
    recent = send_traces(server, project, [29, 0], whole=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the run that deleted them has finished
        with server.engine.connect() as connection:
            audited = connection.scalars(
                sa.select(AuditEntry.detail).where(AuditEntry.actor == "retention")
            ).all()
        if sum(detail["traces"] for detail in audited if detail) >= 2:
            break
        time.sleep(0.2)
    after = rows(server, project)
    assert of_traces(after, set(old)) == dict.fromkeys(of_traces(after, set(old)), 0)
    assert sorted(row["trace_id"] for row in after["traces"]) == sorted(recent)
    with server.engine.connect() as connection:
        task = connection.execute(
            sa.select(PeriodicTask.name, PeriodicTask.last_result, PeriodicTask.next_run_at)
            # On PostgreSQL the servers also keep the span partitions (a task of its own).
            .where(PeriodicTask.name == "retention")
        ).one()
        audited = connection.scalars(
            sa.select(AuditEntry.detail).where(AuditEntry.actor == "retention")
        ).all()
    assert task.name == "retention" and task.last_result is not None
    assert task.last_result["days"] == 30
    assert sum(detail["traces"] for detail in audited if detail) >= 2


def test_one_process_at_a_time(engine: sa.Engine) -> None:
    first, second = (
        RetentionSchedule(engine, days=30, interval_s=3600, lease_s=60) for _ in range(2)
    )
    now = datetime.now(UTC)
    with engine.begin() as connection:  # the first holds the lease, as while it runs
        assert periodic.claim(
            connection, "retention", first.name, now, now.replace(year=now.year + 1)
        )
    assert second.run_due() is None
    with engine.begin() as connection:
        assert periodic.finish(connection, "retention", first.name, now, now, None)
    done = second.run_due()
    assert done is not None and done.finished and done.traces == 0
    assert first.run_due() is None  # not due for another hour


def test_ingest_is_acknowledged_and_stored_while_a_large_retention_runs(server: Server) -> None:
    old_project, live_project = "retention-large", "retention-live"
    ids = Ids(old_project)
    start = time.time_ns() - 10 * DAY
    for _ in range(2):  # 2,000 old traces of 3 spans
        spans = []
        for _ in range(1000):
            trace = ids.trace()
            root = ids.span()
            spans.append(SpanSpec(trace, root, "agent", start, start + 3000))
            spans.append(SpanSpec(trace, ids.span(), "step", start + 1, start + 1000, root))
            spans.append(SpanSpec(trace, ids.span(), "step", start + 1001, start + 2000, root))
        assert post(server.url, request(spans), project=old_project).status_code == 200
    assert server.count(Trace, old_project) == 2000

    acknowledged: list[tuple[str, str]] = []
    refused: list[int] = []
    acks_at: list[float] = []
    stop = threading.Event()

    def ingest(seed: int) -> None:
        live = Ids(f"{live_project}-{seed}")
        while not stop.is_set():
            now = time.time_ns()
            trace = live.trace()
            batch = [SpanSpec(trace, live.span(), "live", now, now + 10) for _ in range(20)]
            response = post(server.url, request(batch), project=live_project)
            if response.status_code == 200:
                acknowledged.extend((s.trace_id, s.span_id) for s in batch)
                acks_at.append(time.monotonic())
            else:
                refused.append(response.status_code)

    senders = [threading.Thread(target=ingest, args=(seed,)) for seed in range(2)]
    for sender in senders:
        sender.start()
    try:
        began = time.monotonic()
        done = retention(server, "--older-than", "5d", "--project", old_project, "--batch", "200")
        ended = time.monotonic()
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert done.returncode == 0, done.stderr
    assert "deleted 2,000 traces (6,000 spans" in done.stdout and "(10 batches)" in done.stdout
    assert server.count(Trace, old_project) == server.count(Span, old_project) == 0
    assert refused == []
    assert sum(began < at < ended for at in acks_at) >= 5  # ingest went on meanwhile
    with server.engine.connect() as connection:
        stored = {
            (trace_id, span_id)
            for trace_id, span_id in connection.execute(
                sa.select(Span.trace_id, Span.span_id)
                .join(Project, Project.id == Span.project_id)
                .where(Project.name == live_project)
            )
        }
    assert set(acknowledged) <= stored and len(acknowledged) > 0


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite runs one writer at a time: no race")
def test_a_rollup_a_racing_span_brought_back_is_recomputed(server: Server) -> None:
    """On PostgreSQL a span committed just after its trace's batch may re-create the
    rollup from a snapshot that still saw the deleted spans: the next batch repairs it."""
    project = "retention-race"
    came_back, gone = send_traces(server, project, [0, 0], whole=False)
    with server.engine.begin() as connection:
        project_id = connection.scalars(sa.select(Project.id).where(Project.name == project)).one()
        # As the race leaves it: one span of the trace stored, its rollup counting three.
        last = connection.scalars(
            sa.select(Span.id).where(Span.trace_id == came_back).order_by(Span.id.desc())
        ).first()
        # (Their costs go by the foreign key's cascade.)
        connection.execute(sa.delete(Span).where(Span.trace_id == came_back, Span.id != last))
        # And one whose spans all went after all.
        connection.execute(sa.delete(Span).where(Span.trace_id == gone))
        _restore_returned(connection, {project_id: [came_back, gone]})
    traces = {row["trace_id"]: row for row in rows(server, project)["traces"]}
    assert list(traces) == [came_back] and traces[came_back]["span_count"] == 1
