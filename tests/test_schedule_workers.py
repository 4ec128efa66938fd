"""Scheduled suites end to end: a real server's scheduler queues the slots, two real
``reasonlens worker`` processes race for the jobs (the server runs none of its own),
and each job runs once. A worker killed mid-job leaves its job to the other once the
lease runs out. Online suites score each arriving trace once.

Traces go in through the real OpenTelemetry SDK; suites and switches through the API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from store.jobs import LOST_LEASE
from store.models import EvalJob, EvalRun, Score
from tests.databases import fresh_database
from tests.demo_data import load_demo
from tests.fake_judge import FakeJudge
from tests.server import Server

PROJECT = "scheduled"
LEASE_S = 3.0  # short, for the killed worker's test; long enough for a loaded machine
FAST = {
    "REASONLENS_SCHEDULER_INTERVAL_SECONDS": "0.2",
    "REASONLENS_WORKER_POLL_SECONDS": "0.1",
    "REASONLENS_JOB_LEASE_SECONDS": str(LEASE_S),
    "REASONLENS_LOG_LEVEL": "warning",
}
YAML = {"content-type": "application/yaml"}


class Worker:
    """A ``reasonlens worker`` process."""

    def __init__(self, database_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reasonlens", "worker", "--db", database_url],
            env={**os.environ, **FAST},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> int:
        os.killpg(self.process.pid, sig)
        return self.process.wait(30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env={**FAST, "REASONLENS_EVAL_WORKERS": "0"}).start()
        load_demo(running, PROJECT, traces=40, seed=3)
        try:
            yield running
        finally:
            running.close()


@pytest.fixture(scope="module")
def workers(server: Server) -> Iterator[list[Worker]]:
    started = [Worker(server.database_url), Worker(server.database_url)]
    try:
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.kill(signal.SIGTERM)


def post_suite(server: Server, text: str) -> int:
    response = httpx.post(f"{server.url}/api/suites", content=text, headers=YAML)
    assert response.status_code in (200, 201), response.text
    return int(response.json()["id"])


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def suite_jobs(server: Server, suite_id: int) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/suites/{suite_id}/jobs")
    assert response.status_code == 200, response.text
    return list(response.json()["jobs"])


def test_slots_run_once_each_on_the_workers_and_a_switched_off_suite_waits(
    server: Server, workers: list[Worker]
) -> None:
    suite_id = post_suite(
        server,
        f"name: every second\nselect: {{project: {PROJECT}}}\n"
        "evaluators: [loops]\nschedule: '* * * * * *'\n",
    )
    done = wait_for(
        lambda: [job for job in suite_jobs(server, suite_id) if job["status"] == "done"][3:],
        what="four scheduled jobs done",
    )
    assert all(job["reason"] == "schedule" and job["attempts"] == 1 for job in done)
    schedules = httpx.get(f"{server.url}/api/schedules", params={"project": PROJECT}).json()
    (line,) = [s for s in schedules["schedules"] if s["suite"]["id"] == suite_id]
    assert line["suite"]["enabled"] and line["suite"]["next_run_at"] is not None
    assert line["suite"]["last_run"]["status"] in ("running", "passed", "failed")
    assert line["online"] is False and line["backlog_traces"] is None

    off = httpx.patch(f"{server.url}/api/suites/{suite_id}", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert off.json()["next_run_at"] is None
    time.sleep(0.5)  # a job queued just before the switch may still be finishing
    settled = wait_for(
        lambda: (
            all(job["status"] in ("done", "failed") for job in suite_jobs(server, suite_id))
            and suite_jobs(server, suite_id)
        ),
        what="open jobs to finish",
    )
    time.sleep(2.5)
    assert len(suite_jobs(server, suite_id)) == len(settled)  # no slot queued while off

    queued = httpx.post(f"{server.url}/api/suites/{suite_id}/jobs")
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    manual = wait_for(
        lambda: [j for j in suite_jobs(server, suite_id) if j["id"] == job_id and j["run_id"]
                 and j["status"] == "done"],
        what="the run-now job",
    )  # fmt: skip
    run = httpx.get(f"{server.url}/api/eval-runs/{manual[0]['run_id']}").json()
    assert run["status"] in ("passed", "failed") and run["selection_size"] == 40

    # Every job ran once: one run each, no run without its job.
    with server.engine.connect() as connection:
        runs = connection.execute(
            sa.select(EvalRun.id, EvalRun.status).where(EvalRun.suite_id == suite_id)
        ).all()
        job_runs = connection.scalars(
            sa.select(EvalJob.run_id).where(EvalJob.suite_id == suite_id)
        ).all()
    assert sorted(job_runs) == sorted(run_id for run_id, _ in runs)
    assert all(status in ("passed", "failed") for _, status in runs)


def test_the_schedule_api_refuses_bad_input(server: Server) -> None:
    suite_id = post_suite(
        server, f"name: refused\nselect: {{project: {PROJECT}}}\nevaluators: [loops]\n"
    )
    url = f"{server.url}/api/suites/{suite_id}"
    assert httpx.patch(url, json={"enabled": "perhaps"}).status_code == 422
    assert httpx.patch(url, json={"enabled": True, "extra": 1}).status_code == 422
    assert httpx.patch(url, content="enabled=1").status_code == 415
    assert httpx.patch(f"{server.url}/api/suites/999999", json={"enabled": True}).status_code == 404
    assert httpx.post(f"{server.url}/api/suites/999999/jobs").status_code == 404
    assert httpx.get(f"{server.url}/api/suites/99999999999999999999/jobs").status_code == 422
    cross = httpx.post(f"{url}/jobs", headers={"origin": "http://evil.example"})
    assert cross.status_code == 403
    assert suite_jobs(server, suite_id) == []
    bad = httpx.post(
        f"{server.url}/api/suites",
        content=f"name: bad cron\nselect: {{project: {PROJECT}}}\nevaluators: [loops]\n"
        "schedule: '0 25 * * *'\n",
        headers=YAML,
    )
    assert bad.status_code == 400 and "schedule" in bad.json()["detail"]
    assert httpx.get(f"{server.url}/api/schedules", params={"project": "nope"}).status_code == 404


def send_traces(server: Server, project: str, count: int, name: str) -> list[str]:
    """``count`` small agent traces starting now, through the SDK's exporter."""
    exporter = OTLPSpanExporter(
        f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider = TracerProvider(resource=Resource({"service.name": "online-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    ids = []
    for n in range(count):
        with tracer.start_as_current_span(f"{name} {n}") as root:
            with tracer.start_as_current_span("chat gpt-4o") as llm:
                llm.set_attribute("gen_ai.operation.name", "chat")
                llm.set_attribute("gen_ai.request.model", "gpt-4o")
            ids.append(format(root.get_span_context().trace_id, "032x"))
    provider.shutdown()
    return ids


def scored_traces(server: Server, suite_id: int) -> dict[int, list[str]]:
    """Trace ids scored by each finished run of the suite (a run that lost its worker
    keeps the scores it wrote; its retry scores the window again)."""
    with server.engine.connect() as connection:
        rows = connection.execute(
            sa.select(Score.run_id, Score.trace_id)
            .join(EvalRun, EvalRun.id == Score.run_id)
            .where(
                EvalRun.suite_id == suite_id,
                EvalRun.status.in_(("passed", "failed")),
                Score.evaluator == "loops",
            )
        ).all()
    runs: dict[int, list[str]] = {}
    for run_id, trace_id in rows:
        runs.setdefault(run_id, []).append(trace_id)
    return runs


def test_an_online_suite_scores_each_arriving_trace_once(
    server: Server, workers: list[Worker]
) -> None:
    project = "scheduled-online"
    before = send_traces(server, project, 2, "before")  # history: not the suite's to score
    time.sleep(0.01)
    suite_id = post_suite(
        server,
        f"name: online\nselect: {{project: {project}}}\nevaluators: [loops]\n"
        "schedule: '* * * * * *'\nonline: {settle: 1s}\n",
    )
    first = send_traces(server, project, 4, "first")

    def scored() -> list[str]:
        return [trace for traces in scored_traces(server, suite_id).values() for trace in traces]

    wait_for(lambda: set(first) <= set(scored()), what="the first traces scored")
    second = send_traces(server, project, 3, "second")
    wait_for(lambda: set(second) <= set(scored()), what="the later traces scored")
    time.sleep(1.5)  # more runs, with nothing new to score
    everything = scored()
    assert not set(before) & set(everything)  # history is not the suite's to score
    assert sorted(everything) == sorted(first + second)  # each once
    assert len(scored_traces(server, suite_id)) >= 2
    (line,) = [
        s
        for s in httpx.get(f"{server.url}/api/schedules").json()["schedules"]
        if s["suite"]["id"] == suite_id
    ]
    assert line["online"] is True and line["backlog_traces"] == 0
    httpx.patch(f"{server.url}/api/suites/{suite_id}", json={"enabled": False})


def test_two_workers_racing_for_a_burst_of_jobs_run_each_once(
    server: Server, workers: list[Worker]
) -> None:
    # Four suites: a suite runs one job at a time, so the workers race across suites.
    suites = [
        post_suite(
            server, f"name: burst {n}\nselect: {{project: {PROJECT}}}\nevaluators: [loops, pii]\n"
        )
        for n in range(4)
    ]
    queued = [httpx.post(f"{server.url}/api/suites/{suite}/jobs") for suite in suites * 4]
    assert all(response.status_code == 202 for response in queued)
    assert len({response.json()["job_id"] for response in queued}) == 16

    def all_done() -> list[dict[str, Any]] | None:
        found = [job for suite in suites for job in suite_jobs(server, suite)]
        return found if all(job["status"] == "done" for job in found) else None

    done = wait_for(all_done, what="the burst done")
    assert len(done) == 16 and all(job["attempts"] == 1 for job in done)
    assert len({job["run_id"] for job in done}) == 16
    assert len({job["worker"] for job in done}) == 2  # both took part
    with server.engine.connect() as connection:
        runs = connection.scalar(
            sa.select(sa.func.count()).select_from(EvalRun).where(EvalRun.suite_id.in_(suites))
        )
    assert runs == 16


def test_a_failing_job_is_failed_once_and_counted(server: Server, workers: list[Worker]) -> None:
    from tests.server import free_port  # a port nothing listens on

    suite_id = post_suite(
        server,
        f"name: judge away\nselect: {{project: {PROJECT}}}\nschedule: '0 3 * * *'\n"
        "evaluators:\n"
        f"  - llm_judge: {{endpoint: 'http://127.0.0.1:{free_port()}/v1', model: m, rubric: r,"
        " retries: 0, timeout_s: 2}\n",
    )
    httpx.post(f"{server.url}/api/suites/{suite_id}/jobs")
    (job,) = wait_for(
        lambda: [j for j in suite_jobs(server, suite_id) if j["status"] == "failed"],
        what="the job failed",
    )
    assert job["attempts"] == 1 and "judge" in job["error"]
    run = httpx.get(f"{server.url}/api/eval-runs/{job['run_id']}").json()
    assert run["status"] == "error"
    schedules = httpx.get(f"{server.url}/api/schedules", params={"project": PROJECT}).json()
    (line,) = [s for s in schedules["schedules"] if s["suite"]["id"] == suite_id]
    assert line["failed_jobs_24h"] == 1 and line["queued_jobs"] == line["running_jobs"] == 0


def test_a_killed_worker_s_job_is_run_again_by_the_other(
    server: Server, workers: list[Worker]
) -> None:
    with FakeJudge(latency_s=0.3) as judge:
        suite_id = post_suite(
            server,
            f"name: slow judge\nselect: {{project: {PROJECT}}}\nevaluators:\n"
            f"  - llm_judge: {{endpoint: '{judge.endpoint}', model: judge-1, rubric: ok,"
            " concurrency: 1}\n",
        )
        job_id = httpx.post(f"{server.url}/api/suites/{suite_id}/jobs").json()["job_id"]
        running = wait_for(
            lambda: [j for j in suite_jobs(server, suite_id) if j["status"] == "running"
                     and j["run_id"] and judge.calls > 0],
            what="the job running",
        )  # fmt: skip
        holder = running[0]["worker"]
        pid = int(holder.split(":")[1])
        (victim,) = [w for w in workers if w.process.pid == pid]
        assert victim.kill() == -signal.SIGKILL
        first_run = running[0]["run_id"]
        finished = wait_for(
            lambda: [j for j in suite_jobs(server, suite_id) if j["status"] == "done"],
            timeout=90,
            what="the job taken back and finished",
        )
    (job,) = finished
    assert job["id"] == job_id and job["attempts"] == 2 and job["worker"] != holder
    dead = httpx.get(f"{server.url}/api/eval-runs/{first_run}").json()
    assert dead["status"] == "error" and dead["error"] == LOST_LEASE
    again = httpx.get(f"{server.url}/api/eval-runs/{job['run_id']}").json()
    assert again["status"] in ("passed", "failed") and again["selection_size"] == 40
