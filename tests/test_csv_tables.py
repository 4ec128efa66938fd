"""The CSV exports of the dashboard's remaining tables, each against the table the page
shows: a run comparison's regressed, improved, tools and escalation tables; a suite's
drift over its runs and its jobs; the evals page's recent runs; a run's thresholds and
drift report; a trace's scores; the overview's runaways (its 7 days). Text that
evaluators, agents and tools wrote arrives disarmed. The command line writes the same
bytes (``test_csv_tables_cli.py``; ``test_csv_refusals.py`` has the older kinds and the
refusals)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from store.models import Project, Runaway
from tests.compare_data import trace_ids
from tests.csv_files import download, header, table
from tests.csv_pages import assert_disarmed, fetch, link, page, rows_of
from tests.csv_tables_data import FORMULA, HOSTILE, PROJECT, TOOL, Data, tables_data
from tests.server import Server
from web.exports import eval_tables, run_compare, trace_scores

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def data(server: Server) -> Data:
    return tables_data(server)


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
