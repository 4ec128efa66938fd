"""Spans partitioned by time on PostgreSQL (``reasonlens db partition-spans``): the
conversion keeps every row, ingest stays idempotent across partitions, the server makes
partitions ahead, and retention drops old partitions whole but never a live trace's
spans. On SQLite the command is refused and changes nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

import migrations
from reasonlens import cli
from store.engine import create_engine
from store.models import Base, Span, Trace
from store.partitions import PARTITION_KEY, day_of, ns_of
from tests.databases import BACKEND, fresh_database
from tests.otlp import Ids, SpanSpec, post, request
from tests.retention_data import DAY, of_traces, retention, rows, send_traces
from tests.server import Server

postgresql_only = pytest.mark.skipif(BACKEND != "postgresql", reason="a PostgreSQL feature")


def partition_spans(url: str, *options: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli.app, ["db", "partition-spans", *options, "--db", url], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_sqlite_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = create_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    engine.dispose()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    code, stdout, stderr = partition_spans(f"sqlite:///{path}", "--interval", "day")
    assert code == 2
    assert "spans can be partitioned on PostgreSQL only; this store is SQLite" in stderr
    assert stdout == ""
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


OLD, KEPT, OTHER = "part-old", "part-kept", "part-other"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A store with traces sent before it was partitioned; its server checks the
    partitions every second (the drop-ahead test) and runs no scheduled retention."""
    if BACKEND != "postgresql":
        pytest.skip("a PostgreSQL feature")
    env = {"REASONLENS_PARTITION_CHECK_SECONDS": "1"}
    with fresh_database(tmp_path_factory.mktemp("partitioning")) as url:
        running = Server(url, env=env).start()
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(scope="module")
def converted(server: Server) -> dict[str, list[str]]:
    """Traces of several ages stored, then the store converted; the trace ids by age."""
    sent = {
        "old": send_traces(server, OLD, [10, 8]),
        "recent": send_traces(server, OLD, [1, 0]),
        "other": send_traces(server, OTHER, [9, 6, 0]),
    }
    before = {project: rows(server, project) for project in (OLD, OTHER)}
    code, stdout, stderr = partition_spans(server.database_url, "--interval", "day")
    assert code == 0, stderr
    assert "partitioned spans by day: 21 spans copied into" in stdout
    assert {project: rows(server, project) for project in (OLD, OTHER)} == before
    return sent


def partitions_of(server: Server) -> dict[str, str]:
    """Each stored span's partition, by span id."""
    with server.engine.connect() as connection:
        found = connection.execute(sa.text("SELECT span_id, tableoid::regclass::text FROM spans"))
        return {span_id: partition for span_id, partition in found}


def partition_names(server: Server) -> set[str]:
    with server.engine.connect() as connection:
        return set(
            connection.scalars(
                sa.text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'spans'::regclass"
                )
            )
        )


def day_partition(ns: int) -> str:
    return f"spans_p{day_of(ns):%Y%m%d}"


def _ignore_partitions(obj: object, name: str | None, type_: str, *_: object) -> bool:
    if type_ == "table" and name is not None and name.startswith(("spans_p", "spans_default")):
        return False
    return not (type_ == "index" and name == "ix_traces_project_id_cost_sort")


@postgresql_only
def test_conversion_changes_three_keys_and_is_harmless_twice(
    server: Server, converted: dict[str, list[str]]
) -> None:
    with server.engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _ignore_partitions}
        )
        diff = compare_metadata(context, Base.metadata)
        primary_key = sa.inspect(connection).get_pk_constraint("spans")
    # The models are the unpartitioned schema; a partitioned one differs in its keys only.
    assert sorted((change[0], change[1].name) for change in diff) == [
        ("add_fk", "fk_span_costs_span_pk_spans"),
        ("add_index", "uq_spans_project_id_trace_id_span_id"),
        ("remove_index", PARTITION_KEY),
    ]
    assert primary_key["constrained_columns"] == ["id", "start_time_ns"]
    names = partition_names(server)
    # One for each day that held spans, and today's and the next seven days'.
    now = time.time_ns()
    held = {day_partition(now - age * DAY) for age in (10, 9, 8, 6, 1)}
    ahead = {day_partition(now + days * DAY) for days in range(8)}
    assert names == held | ahead | {"spans_default"}

    before = rows(server, OLD)
    code, stdout, _ = partition_spans(server.database_url, "--interval", "day")
    assert code == 0 and "partitioned by day already" in stdout
    code, _, stderr = partition_spans(server.database_url, "--interval", "month")
    assert code == 2 and "partitioned by day already" in stderr
    assert partition_names(server) == names and rows(server, OLD) == before


def boundary_trace(ids: Ids, boundary: int) -> list[SpanSpec]:
    """A trace whose root starts just before ``boundary`` and whose child after it."""
    trace, root = ids.trace(), ids.span()
    return [
        SpanSpec(trace, root, "agent", boundary - 1_000_000, boundary + 5_000_000),
        SpanSpec(trace, ids.span(), "step", boundary + 1_000_000, boundary + 2_000_000, root),
    ]


@postgresql_only
def test_a_trace_across_a_boundary_is_stored_once_when_sent_again(
    server: Server, converted: dict[str, list[str]]
) -> None:
    project = "part-boundary"
    midnight = ns_of(day_of(time.time_ns()))
    spans = boundary_trace(Ids(project), midnight)
    for _ in range(3):  # a client retrying the same request
        assert post(server.url, request(spans), project=project).status_code == 200
    assert server.count(Span, project) == 2 and server.count(Trace, project) == 1
    where = partitions_of(server)
    assert [where[span.span_id] for span in spans] == [
        day_partition(midnight - DAY),
        day_partition(midnight),
    ]
    trace = httpx.get(f"{server.url}/api/traces/{spans[0].trace_id}", params={"project": project})
    assert trace.status_code == 200 and trace.json()["span_count"] == 2


@postgresql_only
def test_far_off_times_go_to_the_default_partition_until_theirs_is_made(
    server: Server, converted: dict[str, list[str]]
) -> None:
    project = "part-far"
    ids = Ids(project)
    past = ns_of(datetime(1999, 1, 1, tzinfo=UTC).date()) + 3_600_000_000_000
    soon = ns_of(day_of(time.time_ns())) + 7 * DAY + 3_600_000_000_000  # the last one made
    with server.engine.begin() as connection:  # as if the server had not made it yet
        connection.exec_driver_sql(f"DROP TABLE {day_partition(soon)}")
    far = [SpanSpec(ids.trace(), ids.span(), "agent", at, at + 1000) for at in (past, soon)]
    for _ in range(2):
        sent = post(server.url, request(far), project=project)
        assert sent.status_code == 200, (sent.text, server.output())
    assert server.count(Span, project) == 2
    where = partitions_of(server)
    assert where[far[0].span_id] == "spans_default"
    deadline = time.monotonic() + 15  # the server looks every second
    while where.get(far[1].span_id) == "spans_default" and time.monotonic() < deadline:
        time.sleep(0.2)
        where = partitions_of(server)
    assert where[far[1].span_id] == day_partition(soon), server.output()  # moved into it
    assert server.count(Span, project) == 2
    for span in far:
        page = httpx.get(f"{server.url}/traces/{span.trace_id}", params={"project": project})
        assert page.status_code == 200 and span.span_id in page.text


@postgresql_only
def test_pages_exports_and_repricing_work(server: Server, converted: dict[str, list[str]]) -> None:
    recent = converted["recent"]
    listed = httpx.get(f"{server.url}/traces", params={"project": OLD})
    assert listed.status_code == 200 and all(trace_id in listed.text for trace_id in recent)
    page = httpx.get(f"{server.url}/traces/{recent[0]}", params={"project": OLD})
    assert page.status_code == 200 and "chat gpt-4o" in page.text
    exported = httpx.get(f"{server.url}/api/spans.csv", params={"project": OLD})
    assert exported.status_code == 200
    span_rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted({row["trace_id"] for row in span_rows}) == sorted(
        converted["old"] + converted["recent"]
    )
    assert len(span_rows) == 12
    traces_csv = httpx.get(f"{server.url}/api/traces.csv", params={"project": OLD})
    assert traces_csv.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(traces_csv.text)))) == 4
    before = rows(server, OLD)
    repriced = CliRunner().invoke(
        cli.app, ["reprice", "--project", OLD, "--db", server.database_url]
    )
    assert repriced.exit_code == 0, repriced.stderr
    assert rows(server, OLD)["span_costs"] == before["span_costs"]  # same prices


@postgresql_only
def test_retention_drops_old_partitions_and_keeps_every_span_of_live_traces(
    server: Server, converted: dict[str, list[str]]
) -> None:
    """Last: it deletes every project's old traces."""
    project = "part-live"
    ids = Ids(project)
    now = time.time_ns()
    # Started 9.5 days ago and still going: a span in an old partition, one today.
    trace, root = ids.trace(), ids.span()
    long_running = [
        SpanSpec(trace, root, "agent", now - int(9.5 * DAY), now),
        SpanSpec(trace, ids.span(), "step", now - int(9.5 * DAY) + 1000, now - 9 * DAY, root),
        SpanSpec(trace, ids.span(), "step", now - 1000, now - 10, root),
    ]
    assert post(server.url, request(long_running), project=project).status_code == 200
    # Day -7 has no partition (no span was stored then): this one goes to the default
    # partition, between two that retention drops, and must go by batches.
    send_traces(server, "part-gap", [7], whole=False)
    assert set(partitions_of(server).values()) >= {"spans_default"}
    before_live = rows(server, project)
    before_recent = rows(server, OLD)
    old, recent = set(converted["old"]), set(converted["recent"])
    held = day_partition(now - int(9.5 * DAY))
    assert held in partition_names(server)

    done = retention(server, "--older-than", "5d")
    assert done.returncode == 0, done.stderr
    assert "partitions dropped whole" in done.stdout

    names = partition_names(server)
    cutoff = now - 5 * DAY
    gone = {day_partition(ns_of(day_of(cutoff)) - days * DAY) for days in range(1, 9)} - {held}
    assert not gone & names, sorted(gone & names)
    assert held in names  # a live trace has a span in it
    assert rows(server, project) == before_live  # every span of the live trace stays
    after = rows(server, OLD)
    assert of_traces(after, old) == dict.fromkeys(of_traces(after, old), 0)
    assert {
        name: [row for row in found if row["trace_id"] in recent]
        for name, found in before_recent.items()
    } == after
    with server.engine.connect() as connection:
        orphans = connection.scalar(
            sa.text(
                "SELECT count(*) FROM spans s WHERE NOT EXISTS (SELECT 1 FROM traces t "
                "WHERE t.project_id = s.project_id AND t.trace_id = s.trace_id)"
            )
        )
        expired = connection.scalar(
            sa.select(sa.func.count()).select_from(Trace).where(Trace.end_time_ns < cutoff)
        )
    assert orphans == 0 and expired == 0
    # The 1999 span of part-far and the day -7 trace went by batches, from the default
    # partition.
    assert server.count(Span, "part-far") == 1
    assert server.count(Span, "part-gap") == server.count(Trace, "part-gap") == 0
