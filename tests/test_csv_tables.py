"""The CSV exports of the dashboard's remaining tables, each against the table the page
shows: a run comparison's regressed, improved, tools and escalation tables; a suite's
drift over its runs and its jobs; the evals page's recent runs; a run's thresholds and
drift report; a trace's scores; the overview's runaways (its 7 days). Text that
evaluators, agents and tools wrote arrives disarmed. The command line writes the same
bytes (``test_csv_refusals.py`` has the older kinds and the refusals)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from evals.runner import run_suite
from evals.suite import load_suite
from reasonlens.cli import app
from store.evals import NewScore
from store.models import Project, Runaway
from tests.compare_data import budget_suite, run, scored_run, trace_ids
from tests.csv_files import download, header, table
from tests.csv_pages import assert_disarmed, fetch, link, page, rows_of
from tests.demo_data import Loaded, load_demo
from tests.otlp import SpanSpec, post, request
from tests.server import Server
from web.exports import eval_tables, run_compare, trace_scores

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
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


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


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=150, seed=11)


@pytest.fixture(scope="module")
def data(server: Server, demo: Loaded) -> Data:
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


# --- A run comparison -----------------------------------------------------------------


@pytest.mark.parametrize("limit", [50, 3])
def test_the_comparison_tables_export_the_rows_shown(
    server: Server, data: Data, limit: int
) -> None:
    for b, a, table_name in ((data.b, data.a, "regressed"), (data.a, data.b, "improved")):
        html = page(server, "/evals/compare", a=a, b=b, limit=limit)
        shown = [row.attributes["data-key"] for row in rows_of(html, f"ec-{table_name}")]
        shown = [key for key in shown if key]  # each key's outputs row follows it
        href = link(html, f"ec-{table_name}-csv")
        content = fetch(server, href)
        assert header(content) == list(run_compare.CHANGES_COLUMNS)
        rows = table(content)
        assert shown and [row["key"] for row in rows] == shown
        assert len(rows) <= limit
        body = httpx.get(
            f"{server.url}/api/eval-runs/{b}/compare", params={"against": a, "limit": limit}
        ).json()
        wanted = body[table_name]["rows"]
        assert [(r["evaluator"], r["key"]) for r in rows] == [
            (k["evaluator"], k["key"]) for k in wanted
        ]
        for row, key in zip(rows, wanted, strict=True):
            assert (row["run_a"], row["run_b"]) == (str(a), str(b))
            assert row["a_trace_id"] == key["a"]["trace_id"]
            assert re.match("^[0-9a-f]{32}$", row["key"])
            passed = {True: "true", False: "false", None: ""}
            assert (row["a_passed"], row["b_passed"]) == (
                passed[key["a"]["passed"]], passed[key["b"]["passed"]])  # fmt: skip
    html = page(server, "/evals/compare", a=data.a, b=data.b, limit=limit)
    tools = table(fetch(server, link(html, "ec-tools-csv")))
    shown_tools = [row.attributes["data-tool"] for row in rows_of(html, "ec-tools")]
    assert tools and [row["tool"] for row in tools] == shown_tools
    assert len(tools) <= limit
    for row in tools:
        assert int(row["called"]) >= int(row["called_failed"])
        if row["rate_called"] and row["rate_not_called"]:
            difference = float(row["rate_called"]) - float(row["rate_not_called"])
            assert float(row["difference"]) == pytest.approx(difference)


def test_narrowed_to_an_evaluator_the_links_keep_it(server: Server, data: Data) -> None:
    html = page(server, "/evals/compare", a=data.a, b=data.b, evaluator="step_budget")
    href = link(html, "ec-regressed-csv")
    assert "evaluator=step_budget" in href
    rows = table(fetch(server, href))
    assert rows and {row["evaluator"] for row in rows} == {"step_budget"}
    tools = table(fetch(server, link(html, "ec-tools-csv")))
    assert {row["evaluator"] for row in tools} == {"step_budget"}


def test_hostile_comparison_tables_arrive_disarmed(server: Server, data: Data) -> None:
    html = page(server, "/evals/compare", b=data.hostile_b, a=data.hostile_a)
    regressed = table(fetch(server, link(html, "ec-regressed-csv")))
    assert {row["evaluator"] for row in regressed} == {"'" + FORMULA, "'@escalation"}
    first = next(row for row in regressed if row["evaluator"] == "'" + FORMULA)
    assert (first["metric"], first["item_key"], first["key"]) == ("'@metric", "'@item", "'@item")
    assert (first["b_label"], first["b_explanation"]) == ("'=label", "'-why")
    assert (first["expected"], first["b_output"]) == ("'-expected", "'+output")
    tools = table(fetch(server, link(html, "ec-tools-csv")))
    assert [row["tool"] for row in tools] == ["'" + TOOL]
    escalations = table(fetch(server, link(html, "ec-escalations-csv")))
    assert header(fetch(server, link(html, "ec-escalations-csv"))) == list(
        run_compare.ESCALATIONS_COLUMNS
    )
    assert [(r["section"], r["step"], r["tool"], r["a"], r["b"]) for r in escalations] == [
        ("step", "3", "", "0", "1"),
        ("tool", "", "'" + TOOL, "0", "1"),
    ]
    for rows in (regressed, tools, escalations):
        assert_disarmed(rows)


# --- A suite, its runs, the evals page ------------------------------------------------


def test_a_suites_drift_table_and_its_runs_pages(server: Server, data: Data) -> None:
    html = page(server, f"/evals/suites/{data.drift_suite}")
    content = fetch(server, link(html, "suite-drift-csv"))
    assert header(content) == list(eval_tables.DRIFT_SERIES_COLUMNS)
    rows = table(content)
    shown = {row.attributes["data-metric"] for row in rows_of(html, "drift-verdicts")}
    series = httpx.get(f"{server.url}/api/suites/{data.drift_suite}/drift").json()
    assert [int(p["run_id"]) for p in series["runs"]] == data.drift_runs
    assert sorted({row["run_id"] for row in rows}) == sorted(str(r) for r in data.drift_runs)
    for point in series["runs"]:
        mine = {row["metric"]: row for row in rows if row["run_id"] == str(point["run_id"])}
        assert set(mine) == set(point["verdicts"])
        for name, verdict in point["verdicts"].items():
            assert mine[name]["verdict"] == verdict
            size = point["sizes"][name]
            assert (mine[name]["size"] == "") if size is None else float(mine[name]["size"]) == size
        assert {row["drifted"] for row in mine.values()} == {str(point["drifted"])}
        assert all(ISO.match(row["started_at"]) for row in mine.values())
    assert any(row["verdict"] == "drifted" for row in rows)
    assert {row["metric"] for row in rows} == shown
    # An older page of runs: the CSV follows the page's cursor.
    older = page(server, f"/evals/suites/{data.drift_suite}", cursor=_cursor(server, data))
    assert "cursor=" in link(older, "suite-drift-csv")
    later = table(fetch(server, link(older, "suite-drift-csv")))
    assert {row["run_id"] for row in later} == {str(data.drift_runs[0])}


def _cursor(server: Server, data: Data) -> str:
    """The cursor of the page after the newest run (one run a page)."""
    body = httpx.get(f"{server.url}/api/suites/{data.drift_suite}/runs", params={"limit": 1}).json()
    return str(body["next_cursor"])


def test_a_suites_jobs_table(server: Server, data: Data) -> None:
    html = page(server, f"/evals/suites/{data.jobs_suite}")
    href = link(html, "suite-jobs-csv")
    assert href.endswith("jobs.csv?limit=20")
    rows = table(fetch(server, href))
    shown = [row.cells[0] for row in rows_of(html, "suite-jobs")]
    jobs = httpx.get(f"{server.url}/api/suites/{data.jobs_suite}/jobs").json()["jobs"]
    assert len(rows) == len(jobs) == 2
    assert [row["id"] for row in rows] == [str(job["id"]) for job in jobs]
    assert [f"#{row['id']}" for row in rows] == shown
    assert {row["reason"] for row in rows} == {"manual"}
    assert all(ISO.match(row["due_at"]) for row in rows)


def test_the_recent_runs_table(server: Server, data: Data) -> None:
    html = page(server, "/evals", project=PROJECT)
    content = fetch(server, link(html, "recent-runs-csv"))
    rows = table(content)
    shown = [row.cells[0].lstrip("#") for row in rows_of(html, "eval-runs")]
    run_ids = list(dict.fromkeys(row["run_id"] for row in rows))
    assert run_ids == shown and {str(data.a), str(data.b)} <= set(run_ids)
    budgets = [row for row in rows if row["run_id"] == str(data.b)]
    figures = httpx.get(f"{server.url}/api/eval-runs/{data.b}").json()["evaluators"]
    assert [row["evaluator"] for row in budgets] == list(figures)  # as its summary holds them
    assert set(figures) == {"step_budget", "cost_budget"}
    assert {row["suite"] for row in budgets} == {"budgets"}


def test_a_runs_thresholds_and_drift(server: Server, data: Data) -> None:
    run_id = data.drift_runs[-1]
    html = page(server, f"/evals/runs/{run_id}")
    body = httpx.get(f"{server.url}/api/eval-runs/{run_id}").json()
    content = fetch(server, link(html, "thresholds-csv"))
    assert header(content) == list(eval_tables.THRESHOLDS_COLUMNS)
    rows = table(content)
    shown = [row.cells[:2] for row in rows_of(html, "eval-thresholds")]
    assert [[row["evaluator"], row["check"]] for row in rows] == shown
    held = {True: "true", False: "false"}
    assert [(r["evaluator"], r["check"], r["held"]) for r in rows] == [
        (t["evaluator"], t["check"], held[t["held"]]) for t in body["thresholds"]
    ]
    drift = table(fetch(server, link(html, "run-drift-csv")))
    shown_metrics = re.findall(r'<tr class="drift-metric[^"]*" data-metric="([^"]+)"', html)
    assert [row["metric"] for row in drift] == shown_metrics
    report = body["evaluators"]["drift"]["extra"]
    assert [row["verdict"] for row in drift] == [m["verdict"] for m in report["metrics"]]
    missing = httpx.get(f"{server.url}/api/eval-runs/{data.a}/drift.csv")
    assert missing.status_code == 404 and "has no drift report" in missing.text


# --- A trace's scores, the overview's runaways ----------------------------------------


def test_a_traces_scores_table(server: Server, data: Data) -> None:
    trace = trace_ids(server.engine, PROJECT)[0]
    html = page(server, f"/traces/{trace}", project=PROJECT)
    content = fetch(server, link(html, "trace-scores-csv"))
    assert header(content) == list(trace_scores.COLUMNS)
    rows = table(content)
    assert len(rows) == len(re.findall(r'<tr class="score(?: score-failed)?">', html))
    detail = httpx.get(f"{server.url}/api/traces/{trace}", params={"project": PROJECT}).json()
    key = ("evaluator", "metric", "run_id")
    assert sorted(tuple(row[k] for k in key) for row in rows) == sorted(
        (s["evaluator"], s["metric"], str(s["run_id"])) for s in detail["scores"]
    )
    # Both budget runs scored it: the newer run's verdicts are current, the older's folded.
    newest = max(int(row["run_id"]) for row in rows)
    for row in rows:
        assert row["current"] == ("true" if int(row["run_id"]) == newest else "false")
        assert row["trace_id"] == trace and ISO.match(row["created_at"])
    hostile = page(server, f"/traces/{data.hostile_trace}", project=HOSTILE)
    scores = table(fetch(server, link(hostile, "trace-scores-csv")))
    assert {row["evaluator"] for row in scores} == {"'" + FORMULA, "'@escalation"}
    assert {row["suite"] for row in scores} == {"'=suite"}
    assert_disarmed(scores)


def test_the_runaways_table_exports_its_seven_days(server: Server, data: Data) -> None:
    now = datetime.now(UTC)
    traces = trace_ids(server.engine, PROJECT)[:12]
    with server.engine.begin() as connection:
        pid = connection.execute(sa.select(Project.id).where(Project.name == PROJECT)).scalar()
        connection.execute(sa.delete(Runaway).where(Runaway.project_id == pid))
        connection.execute(
            sa.insert(Runaway),
            [
                {
                    "project_id": pid,
                    "trace_id": trace,
                    "baseline": "agent",
                    "name": "=support",
                    "flagged_at": now - timedelta(days=8 if i == 0 else 0, minutes=i),
                    "steps": 40,
                    "tokens": 9000,
                    "steps_limit": 13.0,
                    "tokens_limit": 5000.0,
                    "baseline_traces": 20,
                }
                for i, trace in enumerate(traces)
            ],
        )
    html = page(server, "/", project=PROJECT)
    shown = [row.links[0].split("/traces/")[1][:32] for row in rows_of(html, "runaways")]
    href = link(html, "runaways-csv")
    assert "since=" in href and "limit=10" in href
    rows = table(fetch(server, href))
    assert len(rows) == len(shown) == 10  # eleven in the 7 days, the newest 10 shown
    assert [row["trace_id"] for row in rows] == shown
    assert traces[0] not in {row["trace_id"] for row in rows}  # 8 days old
    assert {row["name"] for row in rows} == {"'=support"}
    everything = table(download(server, "/api/runaways.csv", project=PROJECT).content)
    assert len(everything) == 12  # all time, at most 500: the route's default
    bad = httpx.get(f"{server.url}/api/runaways.csv", params={"project": PROJECT, "since": "x"})
    assert bad.status_code == 400 and "since" in bad.text


# --- The command line -----------------------------------------------------------------


def export(server: Server, *args: str) -> tuple[int, str]:
    """``reasonlens export`` through its typer app, in this process (a process each
    costs seconds of imports on a loaded machine; ``test_csv_refusals.py`` and the
    first case below run the real entry point): exit code and what it wrote to stderr."""
    result = CliRunner().invoke(app, ["export", *args, "--db", server.database_url])
    return result.exit_code, result.stderr


def test_the_cli_writes_the_files_the_links_download(
    server: Server, data: Data, tmp_path: Path
) -> None:
    trace = trace_ids(server.engine, PROJECT)[0]
    cases = [
        ("eval-compare", f"b={data.b}&against={data.a}&table=regressed&limit=3",
         f"/api/eval-runs/{data.b}/compare.csv?against={data.a}&table=regressed&limit=3"),
        ("eval-compare", f"b={data.hostile_b}&table=escalations",
         f"/api/eval-runs/{data.hostile_b}/compare.csv?table=escalations"),
        ("suite-drift", f"suite_id={data.drift_suite}",
         f"/api/suites/{data.drift_suite}/drift.csv"),
        ("jobs", f"suite_id={data.jobs_suite}&limit=20",
         f"/api/suites/{data.jobs_suite}/jobs.csv?limit=20"),
        ("eval-runs", f"project={PROJECT}", f"/api/eval-runs.csv?project={PROJECT}"),
        ("thresholds", f"run_id={data.drift_runs[0]}",
         f"/api/eval-runs/{data.drift_runs[0]}/thresholds.csv"),
        ("run-drift", f"run_id={data.drift_runs[0]}",
         f"/api/eval-runs/{data.drift_runs[0]}/drift.csv"),
        ("trace-scores", f"trace_id={trace}&project={PROJECT}",
         f"/api/traces/{trace}/scores.csv?project={PROJECT}"),
        ("runs", f"suite_id={data.drift_suite}", f"/api/suites/{data.drift_suite}/runs.csv"),
        ("suites", f"project={PROJECT}", f"/api/suites.csv?project={PROJECT}"),
        ("sessions", f"project={PROJECT}", f"/sessions.csv?project={PROJECT}"),
        ("overview", f"project={PROJECT}&table=tools&window=7d",
         f"/overview.csv?project={PROJECT}&table=tools&window=7d"),
        ("runaways", f"project={PROJECT}&limit=5", f"/api/runaways.csv?project={PROJECT}&limit=5"),
        ("schedules", f"project={PROJECT}", f"/api/schedules.csv?project={PROJECT}"),
        ("alert-rules", f"project={PROJECT}", f"/api/alert-rules.csv?project={PROJECT}"),
    ]  # fmt: skip
    kind, query, href = cases[0]
    command = [sys.executable, "-m", "reasonlens", "export", kind, query, "-o",
               str(tmp_path / "first.csv"), "--db", server.database_url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "first.csv").read_bytes() == fetch(server, href)
    for number, (kind, query, href) in enumerate(cases):
        out = tmp_path / f"{number}-{kind}.csv"
        code, errors = export(server, kind, query, "-o", str(out))
        assert code == 0, (kind, errors)
        assert out.read_bytes() == fetch(server, href), kind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval-compare", "b=1&table=everything"], "table: Input should be"),
        (["eval-compare", "b=987654321"], "no eval run 987654321"),
        (["eval-compare", "limit=3"], "b: Field required"),
        (["suite-drift", "suite_id=987654321"], "no eval suite 987654321"),
        (["suite-drift", "suite_id=1&cursor=garbage"], "cursor:"),
        (["jobs", "suite_id=1&limit=0"], "limit: Input should be greater than or equal to 1"),
        (["thresholds", "run_id=x"], "run_id: Input should be a valid integer"),
        (["run-drift", "run_id=987654321"], "no eval run 987654321"),
        (["trace-scores", "trace_id=xyz"], "trace_id must be 32 hexadecimal characters"),
        (["trace-scores", f"trace_id={'ab' * 16}&project=nowhere"], "no project named"),
        (["eval-runs", "project=nowhere"], "no project named 'nowhere'"),
        (["sessions", ""], "project: Field required"),
        (["overview", "project=csv-tables&table=everything"], "table: Input should be"),
        (["runaways", "since=last-tuesday"], "since: 'last-tuesday' is not a time"),
        (["alerts", "state=sleeping"], "state: Input should be"),
        (["schedules", "project=nowhere"], "no project named 'nowhere'"),
    ],
)
def test_the_cli_refuses_bad_parameters_and_writes_nothing(
    server: Server, demo: Loaded, tmp_path: Path, args: list[str], message: str
) -> None:
    code, errors = export(server, *args, "-o", str(tmp_path / "out.csv"))
    assert code == 2, errors
    assert message in " ".join(errors.split()), errors
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/eval-runs/1/compare.csv", {"table": "everything"}, 422, "table"),
        ("/api/eval-runs/1/compare.csv", {"limit": "0"}, 422, "limit"),
        ("/api/suites/987654321/drift.csv", {}, 404, "no eval suite 987654321"),
        ("/api/suites/987654321/jobs.csv", {}, 404, "no eval suite 987654321"),
        ("/api/eval-runs/987654321/thresholds.csv", {}, 404, "no eval run 987654321"),
        ("/api/eval-runs/987654321/drift.csv", {}, 404, "no eval run 987654321"),
        ("/api/eval-runs.csv", {"project": "nowhere"}, 404, "no project named 'nowhere'"),
        ("/api/traces/xyz/scores.csv", {}, 400, "32 hexadecimal"),
    ],
)
def test_the_routes_refuse_before_streaming(
    server: Server, path: str, params: dict[str, str], status: int, message: str
) -> None:
    response = httpx.get(f"{server.url}{path}", params=params, timeout=30)
    assert response.status_code == status, response.text
    assert message in response.text
    assert not response.headers["content-type"].startswith("text/csv")
