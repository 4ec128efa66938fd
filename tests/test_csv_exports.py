"""The CSV exports on a real server: spans, an eval run's scores and summary, a
comparison and a drift report, each equal to its JSON twin; RFC 4180, UTF-8, ISO
times and hex ids; long exports read in chunks that join without gaps. Refusals and
the command line are in ``test_csv_refusals.py``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from store.exports import SpanFilter, iter_run_scores, iter_span_rows
from store.models import Score, Span
from store.projects import project_id
from store.sessions import list_sessions
from tests.csv_files import FORMULA_STARTS, all_scores, download, header, run_suite, table
from tests.demo_data import Loaded, load_demo
from tests.server import Server
from tests.test_page_overview import Tables
from web.exports import reports, scores, sessions, spans
from web.serialize import iso_time

PROJECT = "csv-exports"
SUITE = f"""\
name: csv-report
select: {{project: {PROJECT}}}
evaluators:
  - step_budget: {{max_steps: 8}}
  - cost_budget: {{max_tokens_per_trace: 20000}}
  - tool_policy: {{forbidden: [delete_account]}}
thresholds:
  step_budget: {{pass_rate: 0.5}}
"""
VERSIONS = {
    "project": PROJECT,
    "a.agent": "support",
    "a.agent_version": "1.4",
    "b.agent": "support",
    "b.agent_version": "1.5",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEX32, HEX16 = re.compile(r"^[0-9a-f]{32}$"), re.compile(r"^[0-9a-f]{16}$")


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=150, seed=11)


@pytest.fixture(scope="module")
def run(server: Server, demo: Loaded) -> dict[str, Any]:
    return run_suite(server, SUITE)


def flatten(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for span in tree:
        found.append(span)
        found += flatten(span["children"])
    return found


# --- Spans ----------------------------------------------------------------------------


def test_a_traces_spans_are_those_of_its_json(server: Server, demo: Loaded) -> None:
    trace_id = demo.summary.traces[3].trace_id
    # The project named: another module may load the same seeded traffic elsewhere.
    content = download(server, "/api/spans.csv", trace_id=trace_id, project=PROJECT).content
    assert header(content) == list(spans.COLUMNS)
    rows = {row["span_id"]: row for row in table(content)}
    body = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": PROJECT}).json()
    wanted = {span["span_id"]: span for span in flatten(body["spans"])}
    assert set(rows) == set(wanted)
    for span_id, span in wanted.items():
        row = rows[span_id]
        assert row["project"] == PROJECT and row["trace_id"] == trace_id
        assert (row["start_time"], row["end_time"]) == (span["start_time"], span["end_time"])
        assert ISO.match(row["start_time"]) and HEX16.match(span_id)
        assert int(row["start_time_unix_nano"]) == span["start_time_unix_nano"]
        assert float(row["duration_ms"]) == pytest.approx(span["duration_ms"])
        for column in ("name", "kind", "status", "model", "tool_name", "agent_name"):
            assert row[column] == (span[column] or ""), column
        for column in ("input_tokens", "output_tokens"):
            assert row[column] == ("" if span[column] is None else str(span[column])), column
        cost = span["cost_usd"]
        assert (row["cost_usd"] == "") if cost is None else float(row["cost_usd"]) == cost


def test_span_filters(server: Server, demo: Loaded) -> None:
    everything = table(download(server, "/api/spans.csv", project=PROJECT).content)
    assert len(everything) == server.count(Span, PROJECT)
    assert all(HEX32.match(row["trace_id"]) for row in everything)
    llm = table(download(server, "/api/spans.csv", project=PROJECT, kind="llm").content)
    assert llm and {row["kind"] for row in llm} == {"llm"}
    assert len(llm) == sum(row["kind"] == "llm" for row in everything)
    model = llm[0]["model"]
    by_model = table(download(server, "/api/spans.csv", project=PROJECT, model=model).content)
    assert len(by_model) == sum(row["model"] == model for row in everything)
    middle = sorted(row["start_time"] for row in everything)[len(everything) // 2]
    later = table(download(server, "/api/spans.csv", project=PROJECT, since=middle).content)
    assert len(later) == sum(row["start_time"] >= middle for row in everything)


def test_span_chunks_join_without_gaps_or_repeats(server: Server, demo: Loaded) -> None:
    selection = SpanFilter(project=PROJECT)
    ids = (Span.trace_id, Span.span_id)
    whole = [(r.trace_id, r.span_id) for r in iter_span_rows(server.engine, selection, ids)]
    small = [(r.trace_id, r.span_id) for r in iter_span_rows(server.engine, selection, ids, ids=7)]
    assert small == whole and len(set(whole)) == len(whole) == server.count(Span, PROJECT)


def test_the_sessions_csv_is_every_page_of_the_table(server: Server, demo: Loaded) -> None:
    content = download(server, "/sessions.csv", project=PROJECT).content
    assert header(content) == list(sessions.COLUMNS)
    rows = table(content)
    with Session(server.engine) as session:
        pid = project_id(session.connection(), PROJECT)
        assert pid is not None
        wanted = list_sessions(session, pid, limit=1000).sessions
    assert len(wanted) > 3
    assert [row["session_id"] for row in rows] == [s.session_id for s in wanted]
    for row, summary in zip(rows, wanted, strict=True):
        assert int(row["trace_count"]) == summary.trace_count
        assert row["last_start_time"] == iso_time(summary.last_start_ns)


# --- Eval runs ------------------------------------------------------------------------


def as_row(score: dict[str, Any]) -> dict[str, Any]:
    """A score of the JSON API as its CSV row reads (created_at compared apart)."""
    passed = {True: "true", False: "false", None: ""}[score["passed"]]
    value = "" if score["value"] is None else repr(float(score["value"]))
    fields = ("trace_id", "span_id", "evaluator", "metric", "label", "explanation", "source",
              "trace_name", "trace_status", "project")  # fmt: skip
    return {
        **{field: score[field] or "" for field in fields},
        "run_id": str(score["run_id"]),
        "value": value,
        "passed": passed,
    }


@pytest.mark.parametrize(
    "params",
    [{}, {"evaluator": "step_budget"}, {"failed": "true"}, {"evaluator": "tool_policy"}],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all",
)
def test_the_scores_csv_is_the_runs_scores(
    server: Server, run: dict[str, Any], params: dict[str, str]
) -> None:
    content = download(server, f"/api/eval-runs/{run['id']}/scores.csv", **params).content
    required = ["run_id", "trace_id", "span_id", "evaluator", "metric", "value", "label",
                "passed", "explanation"]  # fmt: skip
    assert [column for column in header(content) if column in required] == required
    assert header(content) == list(scores.COLUMNS)
    rows = table(content)
    wanted = all_scores(server, run["id"], **params)
    assert wanted and len(rows) == len(wanted)
    for row, score in zip(rows, wanted, strict=True):
        created = row.pop("created_at")
        assert ISO.match(created)
        assert datetime.fromisoformat(created) == datetime.fromisoformat(score["created_at"])
        assert row == as_row(score)


def test_score_chunks_join_without_gaps_or_repeats(server: Server, run: dict[str, Any]) -> None:
    whole = [r.id for r in iter_run_scores(server.engine, run["id"], [Score.metric])]
    small = iter_run_scores(server.engine, run["id"], [Score.metric], chunk=7)
    assert [r.id for r in small] == whole
    assert len(set(whole)) == len(whole) == len(all_scores(server, run["id"]))


def test_the_summary_csv_is_the_runs_figures(server: Server, run: dict[str, Any]) -> None:
    content = download(server, f"/api/eval-runs/{run['id']}/summary.csv").content
    assert header(content) == list(reports.SUMMARY_COLUMNS)
    rows = table(content)
    assert [row["evaluator"] for row in rows] == list(run["evaluators"])
    for row in rows:
        figures = run["evaluators"][row["evaluator"]]
        assert (row["run_id"], row["suite"], row["project"], row["status"]) == (
            str(run["id"]), "csv-report", PROJECT, run["status"])  # fmt: skip
        for column in ("passed", "failed", "not_applicable", "values"):
            assert int(row[column]) == figures[column], column
        for column in ("pass_rate", "mean", "p50", "p95"):
            got = None if row[column] == "" else float(row[column])
            assert got == pytest.approx(figures[column]), column
    step = next(row for row in rows if row["evaluator"] == "step_budget")
    assert (step["thresholds_set"], step["thresholds_held"]) == (
        "1",
        str(int(run["thresholds_held"])),
    )
    assert next(r for r in rows if r["evaluator"] == "tool_policy")["thresholds_set"] == "0"


def test_a_suites_runs_and_the_suites(server: Server, run: dict[str, Any]) -> None:
    content = download(server, f"/api/suites/{run['suite_id']}/runs.csv").content
    assert header(content) == list(reports.RUNS_COLUMNS)
    rows = [row for row in table(content) if row["run_id"] == str(run["id"])]
    assert [row["evaluator"] for row in rows] == list(run["evaluators"])
    for row in rows:
        rate = run["evaluators"][row["evaluator"]]["pass_rate"]
        assert (row["pass_rate"] == "") if rate is None else float(row["pass_rate"]) == rate
        assert (row["suite"], row["status"]) == ("csv-report", run["status"])
        assert ISO.match(row["started_at"]) and ISO.match(row["finished_at"])
    suites = table(download(server, "/api/suites.csv", project=PROJECT).content)
    assert [(row["name"], row["project"]) for row in suites] == [("csv-report", PROJECT)]
    assert suites[0]["last_run_id"] == str(run["id"]) and suites[0]["enabled"] == "true"


def test_a_run_comparison_exports_its_evaluators_table(server: Server, run: dict[str, Any]) -> None:
    again = run_suite(server, SUITE)
    params = {"against": run["id"]}
    body = httpx.get(f"{server.url}/api/eval-runs/{again['id']}/compare", params=params).json()
    content = download(server, f"/api/eval-runs/{again['id']}/compare.csv", **params).content
    assert header(content) == list(reports.EVAL_COMPARE_COLUMNS)
    rows = table(content)
    assert [(r["evaluator"], r["metric"]) for r in rows] == [
        (m["evaluator"], m["metric"]) for m in body["metrics"]
    ]
    for row, metric in zip(rows, body["metrics"], strict=True):
        assert (row["run_a"], row["run_b"]) == (str(run["id"]), str(again["id"]))
        assert int(row["a_passed"]) == metric["a"]["passed"]
        assert int(row["regressed"]) == metric["regressed"] == 0  # the same traces, scored again
        rate = metric["b"]["pass_rate"]
        assert (row["b_pass_rate"] == "") if rate is None else float(row["b_pass_rate"]) == rate


# --- Reports --------------------------------------------------------------------------


def test_the_compare_csv_is_the_pages_tables(server: Server, demo: Loaded) -> None:
    content = download(server, "/compare.csv", **VERSIONS).content
    assert header(content) == list(reports.COMPARE_COLUMNS)
    rows = table(content)
    metrics = {row["name"]: row for row in rows if row["section"] == "metric"}
    versions = [(t.agent, t.version) for t in demo.summary.traces]
    assert int(float(metrics["Traces"]["a"])) == versions.count(("support", "1.4"))
    assert int(float(metrics["Traces"]["b"])) == versions.count(("support", "1.5"))
    tokens = metrics["Tokens per trace"]
    assert tokens["verdict"] == "worse" and float(tokens["delta"]) > 0
    assert float(tokens["delta"]) == pytest.approx(float(tokens["b"]) - float(tokens["a"]))
    tools = {row["name"]: row for row in rows if row["section"] == "tool"}
    assert float(tools["web_search"]["b"]) > 0 and tools["web_search"]["a"] in ("0.0", "")
    assert {row["section"] for row in rows} == {"metric", "tool", "model"}


def test_the_overview_tables_export_as_the_page_shows_them(server: Server, demo: Loaded) -> None:
    window = {"project": PROJECT, "window": "7d"}
    page = httpx.get(f"{server.url}/", params=window, timeout=30).text
    groups = table(download(server, "/overview.csv", table="groups", **window).content)
    shown = [row.attributes.get("data-agent") for row in Tables(page).of("group")]
    assert [row["agent"] or None for row in groups] == shown
    assert sum(int(row["traces"]) for row in groups) == len(demo.summary.traces)
    for name in ("expensive", "slowest"):
        content = download(server, "/overview.csv", table=name, **window).content
        assert header(content) == list(reports.OVERVIEW_COLUMNS[name])
        rows = table(content)
        assert 0 < len(rows) <= 10 and all(ISO.match(row["start_time"]) for row in rows)
        key = "cost_usd" if name == "expensive" else "duration_ms"
        values = [float(row[key]) for row in rows]
        assert values == sorted(values, reverse=True)
    tools = table(download(server, "/overview.csv", table="tools", **window).content)
    assert [row["tool"] for row in tools] == [row.cells[0] for row in Tables(page).of("tool")]


def test_the_drift_csv_is_the_report(server: Server, demo: Loaded) -> None:
    params = {"project": PROJECT, "agent": "support", "version": "1.5", "baseline_version": "1.4",
              "min_n": "5"}  # fmt: skip
    content = download(server, "/api/drift.csv", **params).content
    assert header(content) == list(reports.DRIFT_COLUMNS)
    report = httpx.get(f"{server.url}/api/drift", params=params).json()
    rows = table(content)
    assert [row["metric"] for row in rows] == [m["name"] for m in report["metrics"]]
    for row, metric in zip(rows, report["metrics"], strict=True):
        assert row["verdict"] == metric["verdict"]
        assert int(row["baseline_n"]) == metric["baseline"]["n"]
        assert row["baseline_label"] == report["baseline"]["label"]
        p_value = metric["p_value"]
        assert (row["p_value"] == "") if p_value is None else float(row["p_value"]) == p_value
    assert any(row["verdict"] == "drifted" for row in rows)


def test_the_small_lists_are_their_json_items(server: Server, run: dict[str, Any]) -> None:
    """Budgets, prices, rules, alerts (the run raises one), schedules, runaways and
    known-good versions: a row per JSON item, the item's fields as columns."""
    posts = {
        "/api/prices": {"project": PROJECT, "model": "=cmd|' /C calc'!A0",
                        "input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0},
        "/api/budgets": {"project": PROJECT, "period": "day", "limit_usd": 5.0},
        "/api/alert-rules": {"project": PROJECT, "name": "@errors", "kind": "error_rate",
                             "suite_id": run["suite_id"], "limit": 0.0},
    }  # fmt: skip
    for path, body in posts.items():
        created = httpx.post(f"{server.url}{path}", json=body)
        assert created.status_code in (200, 201), created.text
    mark = {"project": PROJECT, "agent": "support", "version": "1.4"}
    marked = httpx.put(f"{server.url}/api/known-good", json=mark)
    assert marked.status_code in (200, 201), marked.text
    run_suite(server, SUITE)  # raises the error-rate alert
    for path, key, params in (
        ("/api/prices", "prices", {}),
        ("/api/budgets", "budgets", {}),
        ("/api/alert-rules", "rules", {}),
        ("/api/alerts", "alerts", {"state": "open"}),
        ("/api/schedules", "schedules", {}),
        ("/api/runaways", "runaways", {}),
        ("/api/known-good", "known_good", {}),
    ):
        items = httpx.get(f"{server.url}{path}", params={"project": PROJECT, **params}).json()[key]
        content = download(server, f"{path}.csv", project=PROJECT, **params).content
        rows = table(content)
        assert len(rows) == len(items), path
        if items:
            assert header(content) == list(items[0]), path
        for row, item in zip(rows, items, strict=True):
            for column, value in item.items():
                if isinstance(value, str) and not value.startswith(FORMULA_STARTS):
                    assert row[column] == value.replace("+00:00", "Z"), (path, column)
                elif isinstance(value, str):
                    assert row[column] == "'" + value, (path, column)
    assert table(download(server, "/api/prices.csv", project=PROJECT).content)[0]["model"] == (
        "'=cmd|' /C calc'!A0"
    )
    alerts = table(download(server, "/api/alerts.csv", project=PROJECT).content)
    assert any(row["kind"] == "error_rate" for row in alerts)
