"""The runs and suites the CSV table tests read (``test_csv_tables.py`` for the pages'
tables, ``test_csv_tables_cli.py`` for the command line and the refusals): the demo
traffic of one project, two budget runs, a drifting suite's runs, a suite with queued
jobs, and two runs whose every evaluator-written or client-written text is a formula.

Made once per server: both modules read the same runs, and a second copy would add
runs and jobs their tests count (a suite's runs page, its jobs table)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from evals.runner import run_suite
from evals.suite import load_suite
from store.evals import NewScore
from tests.compare_data import budget_suite, run, scored_run, trace_ids
from tests.demo_data import Loaded, load_demo
from tests.otlp import SpanSpec, post, request
from tests.server import Server

PROJECT = "csv-tables"
HOSTILE = "csv-tables-hostile"
QUIET = "csv-tables-jobs"  # a suite whose queued job runs over no traffic of PROJECT
T0 = 1_780_000_000_000_000_000
DRIFT_SUITE = f"""\
name: drifting
select: {{project: {PROJECT}, agent: support, agent_version: "1.5"}}
evaluators:
  - step_budget: {{max_steps: 12}}
  - drift: {{baseline: {{version: "1.4"}}}}
thresholds:
  step_budget: {{pass_rate: 0.5}}
  drift: {{max_drifted: 0}}
"""
QUIET_SUITE = f"""\
name: quiet
select: {{project: {QUIET}}}
evaluators:
  - step_budget: {{max_steps: 9}}
"""
FORMULA = '=HYPERLINK("http://evil.example","x")'
TOOL = "+cmd|' /C calc'!A0"


@dataclass(frozen=True)
class Data:
    a: int  # budgets, max_steps 12
    b: int  # budgets, max_steps 7: regressed from a
    drift_suite: int
    drift_runs: list[int]
    jobs_suite: int
    hostile_a: int
    hostile_b: int
    hostile_trace: str


_demos: dict[str, Loaded] = {}
_data: dict[str, Data] = {}


def tables_demo(server: Server) -> Loaded:
    """The demo traffic of :data:`PROJECT`, loaded once per server."""
    if server.database_url not in _demos:
        _demos[server.database_url] = load_demo(server, PROJECT, traces=150, seed=11)
    return _demos[server.database_url]


def tables_data(server: Server) -> Data:
    """The runs and suites over the demo traffic, made once per server."""
    if server.database_url not in _data:
        tables_demo(server)
        _data[server.database_url] = _make_data(server)
    return _data[server.database_url]


def _make_data(server: Server) -> Data:
    a = run(server.engine, budget_suite(PROJECT, "budgets", max_steps=12)).run_id
    b = run(server.engine, budget_suite(PROJECT, "budgets", max_steps=7)).run_id
    drift = load_suite(DRIFT_SUITE)
    drift_runs = [run_suite(server.engine, drift).run_id for _ in range(2)]
    suites = httpx.get(f"{server.url}/api/suites", params={"project": PROJECT}).json()["suites"]
    drift_suite = next(s["id"] for s in suites if s["name"] == "drifting")
    quiet = QUIET_SUITE
    created = httpx.post(
        f"{server.url}/api/suites", content=quiet, headers={"content-type": "application/yaml"}
    )
    assert created.status_code in (200, 201), created.text
    jobs_suite = created.json()["id"]
    for _ in range(2):
        queued = httpx.post(f"{server.url}/api/suites/{jobs_suite}/jobs")
        assert queued.status_code == 202, queued.text
    hostile_a, hostile_b, trace = _hostile_runs(server)
    return Data(a, b, drift_suite, drift_runs, jobs_suite, hostile_a, hostile_b, trace)


def _hostile_runs(server: Server) -> tuple[int, int, str]:
    """Two runs whose every evaluator-written or client-written text is a formula: the
    tool name (a span), evaluator names, labels, explanations, item keys, outputs, and
    an escalation at step 3 through the formula tool."""
    trace_id, root, tool = "c1" * 16, "c1" * 8, "c2" * 8
    spans = [
        SpanSpec(trace_id, root, FORMULA, T0, T0 + 9_000_000, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": FORMULA}),
        SpanSpec(trace_id, tool, "tool", T0 + 1_000_000, T0 + 2_000_000, root, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": TOOL}),
    ]  # fmt: skip
    assert post(server.url, request(spans), project=HOSTILE).status_code == 200
    [trace] = trace_ids(server.engine, HOSTILE)

    def scores(passed: bool) -> list[NewScore]:
        details = {"item_key": "@item", "expected": "-expected", "output": "+output"}
        return [
            NewScore(trace, FORMULA, "@metric", 1.0, "=label", passed, "-why", details=details),
            NewScore(trace, "@escalation", "escalated", 3.0, TOOL, passed, "\tescalated"),
        ]

    a = scored_run(server.engine, HOSTILE, "=suite", scores(True))
    b = scored_run(server.engine, HOSTILE, "=suite", scores(False))
    return a, b, trace
