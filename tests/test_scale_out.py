"""Scale-out, for real: two ``reasonlens serve`` collectors and two ``reasonlens worker``
processes on one fresh PostgreSQL database, started at the same moment.

A load split across both collectors (spans of one trace through both, one over
OTLP/HTTP and one over OTLP/gRPC, with the OpenTelemetry SDK's exporters) is stored
once, with every trace's rollup equal to the sum of its spans; the two servers'
schedulers and the two workers run each due job once; a collector killed with SIGKILL
mid-load has stored every span it acknowledged, and the store is whole again once it
is back and the clients have retried. docs/scaling.md describes this setup.

SQLite runs only the migration race: one SQLite file takes one writer at a time, so a
second collector on it adds no capacity and is not a supported setup (one ``serve`` and
any number of ``reasonlens worker`` processes is: tests/test_schedule_workers.py). Its
crash test is tests/test_write_semantics.py's, on one collector.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import migrations
from store.engine import create_engine
from store.models import EvalJob, EvalRun, Trace
from store.projects import ensure_projects
from store.rollup import refresh_rollups
from tests.acked_load import AckedLoad, Key, assert_rollups_match_spans, parts, stored_keys
from tests.databases import BACKEND, fresh_database
from tests.server import Server
from tests.test_schedule_workers import FAST, Worker, post_suite, suite_jobs, wait_for

POSTGRESQL_ONLY = pytest.mark.skipif(
    BACKEND != "postgresql",
    reason="collectors scale out on PostgreSQL; two on one SQLite file share its one "
    "write lock and are not a supported setup (SQLite's crash test: test_write_semantics)",
)
COLLECTOR_ENV = {
    **FAST,
    "REASONLENS_EVAL_WORKERS": "0",  # the two worker processes run every job
    "REASONLENS_INGEST_WORKERS": "0",  # decode in a thread: 2 cores, 4 processes already
}


def test_migrations_racing_at_start_apply_once(tmp_path: Path) -> None:
    """Two processes migrating one fresh database at the same moment both succeed.

    Without the lock in migrations/env.py, two PostgreSQL servers both created
    ``alembic_version`` and one exited; on SQLite one re-ran the other's DDL.
    """
    with fresh_database(tmp_path) as url:
        command = [sys.executable, "-m", "reasonlens", "db", "upgrade", "--db", url]
        running = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=120)[0].decode() for process in running]
        assert [process.returncode for process in running] == [0, 0], outputs
        engine = create_engine(url)
        try:
            assert migrations.current_revision(engine) == migrations.head_revision()
            with engine.connect() as connection:
                assert connection.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
        finally:
            engine.dispose()


def test_a_recount_with_no_span_to_count_leaves_no_trace_row(engine: sa.Engine) -> None:
    """Retention may delete a trace's spans while a batch offers spans already stored:
    the recount then finds none, and the placeholder row that PostgreSQL's lock put
    there must go with it (store/rollup.py), not stay as an empty trace."""
    with engine.begin() as connection:
        (project_id,) = ensure_projects(connection, ["empty"]).values()
        refresh_rollups(connection, project_id, ["00" * 16, "ff" * 16])
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(Trace)) == 0


@dataclass
class Cluster:
    collectors: list[Server]
    workers: list[Worker]

    @property
    def engine(self) -> sa.Engine:
        return self.collectors[0].engine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        collectors = [Server(url, env=COLLECTOR_ENV) for _ in range(2)]
        workers: list[Worker] = []
        failures: list[BaseException] = []

        def start(collector: Server) -> None:
            try:
                collector.start()
            except BaseException as error:  # reported below
                failures.append(error)

        # All four migrate on start, at the same moment.
        starting = [threading.Thread(target=start, args=(c,)) for c in collectors]
        for thread in starting:
            thread.start()
        workers = [Worker(url), Worker(url)]
        for thread in starting:
            thread.join()
        try:
            assert not failures, failures
            yield Cluster(collectors, workers)
            assert all(worker.process.poll() is None for worker in workers)  # none died
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.kill()  # SIGKILL: nothing of theirs is checked after
            for collector in collectors:
                collector.close()


def send_through_both(cluster: Cluster, project: str, traces: int) -> list[ReadableSpan]:
    """``traces`` agent traces from two services of one agent: the orchestrator exports
    to the first collector over OTLP/HTTP, the tool service to the second over
    OTLP/gRPC, as two hosts behind a load balancer would; each trace has spans in both.
    Returns every span the SDKs finished, as they saw them."""
    first, second = cluster.collectors
    header = {"x-reasonlens-project": project}
    seen = InMemorySpanExporter()
    providers = []
    for service, exporter in (
        ("orchestrator", HttpSpans(f"{first.url}/v1/traces", headers=header)),
        ("tools", GrpcSpans(second.grpc_target, insecure=True, headers=header)),
    ):
        provider = TracerProvider(resource=Resource({"service.name": service}))
        provider.add_span_processor(
            BatchSpanProcessor(exporter, schedule_delay_millis=20, max_export_batch_size=16)
        )
        provider.add_span_processor(SimpleSpanProcessor(seen))
        providers.append(provider)
    orchestrator, tools = (provider.get_tracer("scale-out") for provider in providers)
    for n in range(traces):
        with orchestrator.start_as_current_span("invoke_agent support") as root:
            root.set_attributes({"gen_ai.operation.name": "invoke_agent",
                                 "gen_ai.agent.name": "support"})  # fmt: skip
            context = trace.set_span_in_context(root)
            for step, tracer in enumerate((orchestrator, tools, orchestrator)):
                with tracer.start_as_current_span("chat gpt-4o-mini", context=context) as llm:
                    llm.set_attributes({
                        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 100 + n + step,
                        "gen_ai.usage.output_tokens": 10 + step,
                    })  # fmt: skip
                with tools.start_as_current_span("execute_tool lookup", context=context) as tool:
                    tool.set_attributes({"gen_ai.operation.name": "execute_tool",
                                         "gen_ai.tool.name": "lookup"})  # fmt: skip
    for provider in providers:
        provider.shutdown()  # flushes; the exporters retry a 503 until stored
    return list(seen.get_finished_spans())


def key(span: ReadableSpan) -> Key:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@POSTGRESQL_ONLY
def test_a_load_split_across_two_collectors_is_stored_once(cluster: Cluster) -> None:
    project = "split"
    sent = send_through_both(cluster, project, traces=60)
    assert len(sent) == 60 * 7
    stored = stored_keys(cluster.engine, project)
    assert sorted(stored) == sorted(map(key, sent))  # each span once, none lost
    rollups = assert_rollups_match_spans(cluster.engine, project)
    assert len(rollups) == 60
    assert {rollup.span_count for rollup in rollups.values()} == {7}
    recorded: dict[str, int] = {}  # the input tokens the SDKs recorded, per trace
    for span in sent:
        tokens = (span.attributes or {}).get("gen_ai.usage.input_tokens", 0)
        recorded[key(span)[0]] = recorded.get(key(span)[0], 0) + int(tokens)
    assert {trace_id: r.input_tokens for trace_id, r in rollups.items()} == recorded


@POSTGRESQL_ONLY
def test_spans_of_one_trace_committed_at_once_by_two_collectors_roll_up_right(
    cluster: Cluster,
) -> None:
    """Each trace's two halves are sent to the two collectors at the same moment: the
    rollup recount races between their transactions (store/rollup.py locks the rows)."""
    project = "race"
    load = AckedLoad([c.url for c in cluster.collectors], project, parts(project, 100, 2))
    load.start().join()
    assert not load.failed
    assert sorted(stored_keys(cluster.engine, project)) == sorted(load.acked_keys)
    rollups = assert_rollups_match_spans(cluster.engine, project)
    assert len(rollups) == 500 and {r.span_count for r in rollups.values()} == {4}


@POSTGRESQL_ONLY
def test_two_schedulers_and_two_workers_run_each_due_job_once(cluster: Cluster) -> None:
    """Both servers run a scheduler (each slot must become one job), both workers claim
    (each job must run once), and run-now jobs come in through both servers' APIs."""
    first, second = cluster.collectors
    send_through_both(cluster, "scheduled", traces=5)
    select = "select: {project: scheduled}\nevaluators: [loops]\n"
    scheduled = post_suite(first, f"name: every second\n{select}schedule: '* * * * * *'\n")
    manual = [post_suite(second, f"name: manual {n}\n{select}") for n in range(3)]
    for suite, server in zip(manual * 2, (first, second) * 3, strict=True):
        assert httpx.post(f"{server.url}/api/suites/{suite}/jobs").status_code == 202

    def done(suite: int, count: int) -> list[dict[str, object]] | None:
        jobs = suite_jobs(first, suite)
        finished = [job for job in jobs if job["status"] == "done"]
        return jobs if len(finished) >= count else None

    wait_for(lambda: done(scheduled, 4), what="four scheduled slots run")
    for suite in manual:
        wait_for(lambda suite=suite: done(suite, 2), what=f"suite {suite}'s two jobs")
    httpx.patch(f"{first.url}/api/suites/{scheduled}", json={"enabled": False})
    suites = [scheduled, *manual]
    wait_for(
        lambda: all(
            j["status"] in ("done", "failed") for s in suites for j in suite_jobs(first, s)
        ),
        what="open jobs to finish",
    )
    with cluster.engine.connect() as connection:
        jobs = connection.execute(
            sa.select(EvalJob.suite_id, EvalJob.due_at, EvalJob.status, EvalJob.attempts,
                      EvalJob.run_id, EvalJob.worker)
            .where(EvalJob.suite_id.in_(suites))
        ).all()  # fmt: skip
        runs = connection.execute(
            sa.select(EvalRun.id, EvalRun.status).where(EvalRun.suite_id.in_(suites))
        ).all()
    assert all(job.status == "done" and job.attempts == 1 for job in jobs), jobs
    slots = [(job.suite_id, job.due_at) for job in jobs]
    assert len(slots) == len(set(slots))  # one job per slot, though two schedulers saw it
    assert sorted(job.run_id for job in jobs) == sorted(run.id for run in runs)  # once each
    assert all(run.status in ("passed", "failed") for run in runs)
    worker_pids = {int(str(job.worker).split(":")[1]) for job in jobs}
    assert worker_pids == {worker.process.pid for worker in cluster.workers}  # both ran


@POSTGRESQL_ONLY
def test_a_collector_killed_mid_load_has_stored_all_it_acknowledged(cluster: Cluster) -> None:
    project = "crash"
    first, second = cluster.collectors
    load = AckedLoad([first.url, second.url], project, parts(project, 120, 2)).start()
    load.wait_acked(10, collector=1)
    assert second.process is not None
    second.stop(signal.SIGKILL)  # SIGKILL: no shutdown hook, the queue dies with it
    load.join()
    assert load.failed, "the load ended before the kill: nothing was tested"
    stored = set(stored_keys(cluster.engine, project))
    assert load.acked_keys <= stored  # every acknowledged span survived
    assert load.acked_by(0) > load.acked_by(1)  # the other collector kept taking the load

    # Back again on its address; the clients retry what was not acknowledged.
    restarted = Server(second.database_url, env=COLLECTOR_ENV, port=second.port,
                       grpc_port=second.grpc_port).start()  # fmt: skip
    second.close()
    cluster.collectors[1] = restarted
    retry = AckedLoad([first.url, restarted.url], project, load.failed).start().join()
    assert not retry.failed
    everything = {key for part in load.parts for key in part.keys}
    assert sorted(stored_keys(cluster.engine, project)) == sorted(everything)
    rollups = assert_rollups_match_spans(cluster.engine, project)
    assert {rollup.span_count for rollup in rollups.values()} == {4}
