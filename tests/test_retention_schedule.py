"""Retention on a schedule, and what runs beside it: REASONLENS_RETENTION_DAYS deletes
old traces in whichever process claims the task, one process at a time; ingest is
acknowledged and stored while a large retention runs; a rollup a racing span brought
back is recomputed (``test_retention.py`` has the command line)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from store import periodic
from store.models import AuditEntry, PeriodicTask, Project, Span, Trace
from store.retention import _restore_returned
from store.retention_schedule import RetentionSchedule
from tests.databases import BACKEND
from tests.otlp import Ids, SpanSpec, post, request
from tests.retention_data import DAY, of_traces, retention, retention_server, rows, send_traces
from tests.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's own store. Its scheduled retention (30 days, looked at every second)
    is what ``test_the_setting_deletes_on_a_schedule`` checks; the other tests' traces
    are younger than that."""
    with retention_server(tmp_path_factory) as running:
        yield running


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
