"""The eval API on a real server: suites stored and refused, runs started in the
background and polled to the end, their scores paged; and a server
that stops while a run is scoring stops at once and says so on the run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from evals import evaluator_options as suite_module
from evals import evaluators as registry
from evals.background import STOPPED, BackgroundRuns
from evals.evaluators.base import Evaluator, scores_frame
from evals.frames import Chunk
from evals.runner import start_run
from evals.suite import load_suite
from reasonlens.app import create_app
from reasonlens.settings import Settings
from store.models import EvalRun
from tests.demo_data import load_demo
from tests.server import Server
from web.eval_schemas import RunOut, ScoreList, SuiteOut

PROJECT = "api-evals"
OTHER = "api-evals-other"
TRACES = 80
SUITE = f"""\
name: budgets
select: {{project: {PROJECT}}}
evaluators:
  - step_budget: {{max_steps: 8}}
  - cost_budget: {{max_tokens_per_trace: 20000}}
thresholds:
  step_budget: {{pass_rate: 0.5}}
"""
# Every evaluator that needs neither a dataset nor a judge's endpoint.
EVERY = """\
name: every deterministic evaluator
select: {{project: {project}}}
evaluators:
  - pii
  - prompt_injection
  - loops: {{max_repeats: 3}}
  - tool_policy: {{forbidden: [delete_account]}}
  - step_budget: {{max_steps: 8}}
  - cost_budget: {{max_tokens_per_trace: 20000}}
  - latency: {{max_ms: 30000}}
  - tool_recovery
  - escalation
  - confident_but_wrong
"""
YAML = {"content-type": "application/yaml"}


@pytest.fixture(scope="module")
def demo(server: Server) -> Server:
    load_demo(server, PROJECT, traces=TRACES, seed=5)
    return server


def post_suite(server: Server, text: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/suites", content=text, headers={**YAML, **headers})


def run_to_the_end(server: Server, suite_id: int, timeout: float = 60) -> dict[str, Any]:
    started = httpx.post(f"{server.url}/api/suites/{suite_id}/runs")
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "running" and body["suite_id"] == suite_id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/api/eval-runs/{body['run_id']}").json()
        if run["status"] != "running":
            assert run["status"] != "error", run["error"]
            RunOut.model_validate(run)
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {body['run_id']} still running after {timeout}s")


def all_scores(server: Server, run_id: int, **params: Any) -> list[dict[str, Any]]:
    """Every page, small ones, so the cursor is exercised."""
    scores: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 37, **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{server.url}/api/eval-runs/{run_id}/scores", params=query)
        assert response.status_code == 200, response.text
        page = ScoreList.model_validate(response.json())
        scores += [score.model_dump() for score in page.scores]
        if page.next_cursor is None:
            return scores
        cursor = page.next_cursor


def project_traces(server: Server, project: str) -> pd.DataFrame:
    body = httpx.get(f"{server.url}/api/traces", params={"project": project, "limit": 1000})
    return pd.DataFrame(body.json()["traces"]).set_index("trace_id")


# --- Suites ---------------------------------------------------------------------------


def test_a_suite_is_stored_listed_and_replaced(server: Server) -> None:
    text = SUITE.replace("name: budgets", "name: stored").replace(PROJECT, OTHER)
    created = post_suite(server, text)
    assert created.status_code == 201, created.text
    suite = SuiteOut.model_validate(created.json())
    assert (suite.project, suite.name, suite.definition) == (OTHER, "stored", text)
    assert suite.last_run is None and suite.run_count == 0

    changed = text.replace("max_steps: 8", "max_steps: 9")
    replaced = httpx.post(f"{server.url}/api/suites", json={"definition": changed})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["id"] == suite.id and replaced.json()["definition"] == changed

    listed = httpx.get(f"{server.url}/api/suites", params={"project": OTHER}).json()["suites"]
    assert [(s["id"], s["name"]) for s in listed] == [(suite.id, "stored")]
    everywhere = httpx.get(f"{server.url}/api/suites").json()["suites"]
    assert suite.id in {s["id"] for s in everywhere}
    one = httpx.get(f"{server.url}/api/suites/{suite.id}").json()
    assert one["definition"] == changed and one["project"] == OTHER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "suite:2:1: not valid YAML"),
        ("- a list\n", "suite: a suite is a mapping"),
        (
            "name: x\nevaluators:\n  - step_budget: {max_steps: 0}\n",
            "suite:3:30: evaluators[0].step_budget.max_steps: Input should be greater",
        ),
        ("name: x\nevaluators: [speling]\n", "unknown evaluator 'speling'"),
        (
            "name: x\nevaluators: [step_budget]\n",
            "evaluators[0].max_steps: Field required",
        ),
        (
            "name: x\nevaluators:\n  - step_budget: {max_steps: 3}\nthresholds:\n  pii: {}\n",
            "suite:5:8: thresholds.pii: no evaluator 'pii' in this suite",
        ),
        (
            "name: x\nselect: {since: yesterday}\nevaluators:\n  - step_budget: {max_steps: 3}\n",
            "select.since",
        ),
        ('name: "a\\0b"\nevaluators:\n  - step_budget: {max_steps: 3}\n', "NUL"),
    ],
)
def test_a_bad_suite_is_refused_naming_line_and_field(
    server: Server, text: str, expected: str
) -> None:
    response = post_suite(server, text)
    assert response.status_code == 400, response.text
    assert expected in response.json()["detail"]


def test_a_body_that_is_not_a_suite_is_refused(server: Server) -> None:
    url = f"{server.url}/api/suites"
    plain = httpx.post(url, content=SUITE, headers={"content-type": "text/plain"})
    assert plain.status_code == 415
    assert httpx.post(url, json={"yaml": SUITE}).status_code == 422
    assert (
        httpx.post(url, content=b"{", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert post_suite(server, "").status_code == 400
    latin1 = httpx.post(url, content="name: café".encode("latin-1"), headers=YAML)
    assert latin1.status_code == 400 and "UTF-8" in latin1.json()["detail"]
    huge = httpx.post(url, content=b"#" * (1024 * 1024 + 1), headers=YAML)
    assert huge.status_code == 413


def test_unknown_suites_runs_and_projects_are_404(server: Server) -> None:
    for path in (
        "/api/suites/987654",
        "/api/suites/987654/runs",
        "/api/eval-runs/987654",
        "/api/eval-runs/987654/scores",
    ):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 404, path
        assert "987654" in response.json()["detail"]
    assert httpx.post(f"{server.url}/api/suites/987654/runs").status_code == 404
    nowhere = httpx.get(f"{server.url}/api/suites", params={"project": "no-such-project"})
    assert nowhere.status_code == 404
    for bad in ("0", "-1", "x", str(2**63)):
        assert httpx.get(f"{server.url}/api/eval-runs/{bad}").status_code == 422, bad
        for path, params in ((f"{bad}/compare", {}), ("1/compare", {"against": bad})):
            compare = httpx.get(f"{server.url}/api/eval-runs/{path}", params=params)
            assert compare.status_code == 422, (path, params)


def test_cross_site_browser_posts_are_refused(demo: Server) -> None:
    suite_id = post_suite(demo, SUITE).json()["id"]
    url = f"{demo.url}/api/suites/{suite_id}/runs"
    assert httpx.post(url, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert httpx.post(url, headers={"origin": "https://evil.example"}).status_code == 403
    refused = post_suite(demo, SUITE, origin="http://evil.example")
    assert refused.status_code == 403
    # The dashboard's own pages post same-origin.
    own = {"sec-fetch-site": "same-origin", "origin": demo.url}
    assert post_suite(demo, SUITE, **own).status_code == 200


# --- Runs -----------------------------------------------------------------------------


def test_a_run_started_through_the_api_scores_every_selected_trace(demo: Server) -> None:
    suite_id = post_suite(demo, SUITE).json()["id"]
    run = run_to_the_end(demo, suite_id)
    traces = project_traces(demo, PROJECT)
    assert len(traces) == TRACES
    steps = traces["llm_call_count"] + traces["tool_call_count"]
    tokens = traces["input_tokens"] + traces["output_tokens"]

    figures = run["evaluators"]["step_budget"]
    expected_passed = int((steps <= 8).sum())
    assert (figures["passed"], figures["failed"]) == (expected_passed, TRACES - expected_passed)
    assert figures["pass_rate"] == pytest.approx(expected_passed / TRACES)
    assert figures["mean"] == pytest.approx(steps.mean())
    held = expected_passed / TRACES >= 0.5
    assert run["status"] == ("passed" if held else "failed")
    assert run["thresholds"] == [
        {
            "evaluator": "step_budget",
            "check": "pass_rate",
            "limit": 0.5,
            "actual": pytest.approx(figures["pass_rate"]),
            "held": held,
        }
    ]
    assert run["thresholds_held"] is held
    assert run["selection_size"] == TRACES == run["selection"]["traces"]
    assert run["selection"]["input_tokens"] == traces["input_tokens"].sum()
    assert run["duration_s"] >= 0 and run["finished_at"] is not None
    assert run["progress"] is None and run["error"] is None and run["definition"] == SUITE

    scores = all_scores(demo, run["id"])
    # One steps verdict and a cost verdict plus a tokens figure per trace, each once.
    assert len(scores) == len({score["id"] for score in scores}) == 3 * TRACES
    by_metric = {
        metric: {s["trace_id"]: s for s in scores if s["metric"] == metric}
        for metric in ("steps", "cost_usd", "tokens")
    }
    assert all(len(found) == TRACES for found in by_metric.values())
    for trace_id, score in by_metric["steps"].items():
        assert score["value"] == steps[trace_id]
        assert score["passed"] is bool(steps[trace_id] <= 8)
        assert score["trace_name"] == traces.loc[trace_id, "name"]
        assert score["source"] == "eval" and score["project"] == PROJECT
    for trace_id, score in by_metric["tokens"].items():
        assert score["value"] == tokens[trace_id]

    failed = all_scores(demo, run["id"], failed="true")
    assert failed and all(score["passed"] is False for score in failed)
    assert len(failed) == sum(1 for s in scores if s["passed"] is False)
    only_steps = all_scores(demo, run["id"], evaluator="step_budget", failed="true")
    assert {s["trace_id"] for s in only_steps} == set(steps[steps > 8].index)
    assert all_scores(demo, run["id"], evaluator="no-such-evaluator") == []


def test_every_deterministic_evaluator_runs_through_the_api(demo: Server) -> None:
    created = post_suite(demo, EVERY.format(project=PROJECT))
    assert created.status_code == 201, created.text
    run = run_to_the_end(demo, created.json()["id"])
    assert (run["status"], run["error"]) == ("passed", None)  # no thresholds set
    assert len(run["evaluators"]) == 10
    for name, figures in run["evaluators"].items():
        judged = figures["passed"] + figures["failed"] + figures["not_applicable"]
        assert judged == TRACES, name
        scores = all_scores(demo, run["id"], evaluator=name)
        verdicts = [s for s in scores if s["metric"] == figures["metric"]]
        assert len({s["trace_id"] for s in verdicts}) == len(verdicts) == TRACES, name
        failed = all_scores(demo, run["id"], evaluator=name, failed="true")
        assert len([s for s in failed if s["metric"] == figures["metric"]]) == figures["failed"]


def test_a_suites_runs_are_listed_newest_first_with_their_figures(demo: Server) -> None:
    text = SUITE.replace("name: budgets", "name: listed")
    suite_id = post_suite(demo, text).json()["id"]
    runs = [run_to_the_end(demo, suite_id)["id"] for _ in range(3)]
    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{demo.url}/api/suites/{suite_id}/runs", params=params).json()
        pages.append([run["id"] for run in body["runs"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [runs[:0:-1], runs[:1]]
    suite = httpx.get(f"{demo.url}/api/suites/{suite_id}").json()
    assert suite["run_count"] == 3 and suite["last_run"]["id"] == runs[-1]
    last = suite["last_run"]
    assert set(last["pass_rates"]) == {"step_budget", "cost_budget"}
    assert (last["thresholds_held"], last["thresholds_total"]) in ((0, 1), (1, 1))
    assert httpx.get(f"{demo.url}/api/suites/{suite_id}/runs?cursor=bogus").status_code == 400
    scores_url = f"{demo.url}/api/eval-runs/{runs[0]}/scores"
    assert httpx.get(scores_url, params={"cursor": "bogus"}).status_code == 400
    assert httpx.get(scores_url, params={"limit": 0}).status_code == 422
    assert httpx.get(scores_url, params={"limit": 1001}).status_code == 422


# --- Stopping -------------------------------------------------------------------------


class _Stalls(Evaluator):
    """Scores after ``release`` is set: a chunk that takes as long as the test wants."""

    name = "stalls"
    metric = "stalled"
    entered = threading.Event()
    release = threading.Event()

    def score(self, chunk: Chunk) -> pd.DataFrame:
        type(self).entered.set()
        type(self).release.wait(60)
        return scores_frame(
            {"trace_id": chunk.traces["trace_id"], "metric": self.metric, "passed": True}
        )


@pytest.fixture
def stalls(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Stalls]]:
    monkeypatch.setitem(registry.EVALUATORS, "stalls", f"{__name__}:_Stalls")
    monkeypatch.setitem(suite_module.EVALUATOR_OPTIONS, "stalls", suite_module.NoOptions)
    _Stalls.entered.clear()
    _Stalls.release.clear()
    yield _Stalls
    _Stalls.release.set()


def _status(engine: sa.Engine, run_id: int) -> tuple[str, str | None]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(EvalRun.status, EvalRun.error).where(EvalRun.id == run_id)
        ).one()
    return row.status, row.error


def test_stopping_the_app_cancels_the_run_in_progress(demo: Server, stalls: type[_Stalls]) -> None:
    """The app's real lifespan: the run ends as ``error`` at its next chunk, waiting runs
    end as ``error`` unstarted, and the lifespan exits at once (no hang on shutdown)."""
    suite = load_suite(f"name: stalling\nselect: {{project: {PROJECT}}}\nevaluators: [stalls]\n")
    settings = Settings(
        database_url=demo.database_url, grpc_port=0, ingest_workers=0, migrate_on_start=False
    )
    app = create_app(settings)

    async def serve_and_stop() -> tuple[int, int, float]:
        async with app.router.lifespan_context(app) as state:
            assert state is not None
            engine, runs = state["engine"], state["eval_runs"]
            first, second = start_run(engine, suite), start_run(engine, suite)
            runs.submit(engine, suite, first)
            runs.submit(engine, suite, second)
            assert await asyncio.to_thread(stalls.entered.wait, 30)
            waiting = runs.progress(second.run_id)
            assert waiting is not None and waiting.waiting
            # The chunk ends a moment after the stop began.
            threading.Timer(0.3, stalls.release.set).start()
            began = time.monotonic()
        return first.run_id, second.run_id, time.monotonic() - began

    # A loop of its own, in a thread: Playwright's sync API (the browser tests) keeps an
    # event loop running in this one for the whole session.
    with ThreadPoolExecutor(1) as pool:
        first, second, took = pool.submit(asyncio.run, serve_and_stop()).result()
    assert took < 5
    assert _status(demo.engine, first) == ("error", f"Cancelled: {STOPPED}")
    assert _status(demo.engine, second) == ("error", STOPPED)


def test_a_chunk_that_outlasts_the_grace_period_is_not_waited_for(
    demo: Server, stalls: type[_Stalls]
) -> None:
    suite = load_suite(f"name: stuck\nselect: {{project: {PROJECT}}}\nevaluators: [stalls]\n")
    runs = BackgroundRuns(grace_s=0.3)
    runs.start()
    started = start_run(demo.engine, suite)
    runs.submit(demo.engine, suite, started)
    assert stalls.entered.wait(30)
    assert runs.progress(started.run_id) is not None
    began = time.monotonic()
    runs.stop()
    assert time.monotonic() - began < 3
    assert _status(demo.engine, started.run_id) == ("error", STOPPED)
    stalls.release.set()  # the thread then ends; the run stays an error
    assert runs.join(10)
    assert _status(demo.engine, started.run_id)[0] == "error"
