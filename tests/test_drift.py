"""Drift on real cohorts: the demo's support 1.5 against 1.4 (the demo made 1.5 use
more tokens, steps and time), through ``GET /api/drift``, a suite run and the pages;
bad queries; and span text an attacker wrote, shown as text in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from evals.runner import RunError, run_suite
from evals.suite import SuiteError, load_suite
from tests.browser import Watched
from tests.demo_data import Loaded, load_demo
from tests.otlp import Ids, SpanSpec, post, request
from tests.server import Server
from tests.test_page_overview import Tables

PROJECT = "drift"
HOSTILE_PROJECT = "drift-hostile"
VERSIONS = {"project": PROJECT, "agent": "support", "version": "1.5", "baseline_version": "1.4"}
SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=1">'
SECOND = 1_000_000_000
T0 = 1_790_000_000 * SECOND


@pytest.fixture(scope="module")
def demo(server: Server) -> Loaded:
    return load_demo(server, PROJECT, traces=300, seed=7)


def api(server: Server, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/api/drift", params=params, timeout=60)


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {row["name"]: row["verdict"] for row in report["metrics"]}


def test_the_api_finds_where_the_demo_made_support_drift(server: Server, demo: Loaded) -> None:
    response = api(server, **VERSIONS)
    assert response.status_code == 200, response.text
    report = response.json()
    found = verdicts(report)
    facts = demo.summary.agents()
    assert report["baseline"]["traces"] == facts["support 1.4"]
    assert report["current"]["traces"] == facts["support 1.5"]
    assert report["baseline"]["label"] == "version 1.4" and not report["current"]["limited"]
    for name in ("input_tokens", "output_tokens", "latency_ms", "cost_usd"):
        assert found[name] == "drifted", name
    assert found["reasoning_tokens"] == "stable"  # the demo's support agent never reasons
    assert report["drifted"] == len(report["drifted_metrics"]) > 0
    tokens = next(row for row in report["metrics"] if row["name"] == "input_tokens")
    assert tokens["current"]["mean"] > 1.5 * tokens["baseline"]["mean"]
    assert tokens["p_value"] < 0.01 / len(report["metrics"]) and tokens["psi"] >= 0.2
    assert tokens["threshold"] == {"p_value": 0.01 / len(report["metrics"]), "psi": 0.2,
                                   "effect_size": 0.5}  # fmt: skip
    assert len(tokens["chart"]["edges"]) == len(tokens["chart"]["baseline"]) + 1


def test_two_windows_of_one_agent_version_do_not_drift(server: Server, demo: Loaded) -> None:
    windows = {
        "project": PROJECT,
        "agent": "checkout",
        "since": "2026-11-20T00:00:00Z",
        "until": "2026-11-20T12:00:00Z",
        "baseline_since": "2026-11-19T12:00:00Z",
        "baseline_until": "2026-11-19T23:59:59Z",
    }
    report = api(server, **windows).json()
    assert report["baseline"]["traces"] > 0 and report["current"]["traces"] > 0
    assert report["drifted"] == 0, report["drifted_metrics"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"project": "no-such-project"}, "project: no project named"),
        ({"baseline_version": "1.4", "baseline_since": "7d"}, "exactly one of"),
        (
            {"baseline_version": "1.4", "since": "last tuesday"},
            "since: 'last tuesday' is not a time",
        ),
        ({"baseline_since": "soon"}, "baseline.window.since"),
        ({"baseline_version": "1.4", "metrics": "vibes"}, "unknown metric 'vibes'"),
        ({"baseline_version": "1.4", "p_value": "2"}, "p_value"),
        ({"baseline_version": "1.4", "min_n": "1"}, "min_n"),
        ({}, "no known-good version marked"),
    ],
)
def test_a_query_it_cannot_answer_is_a_400(
    server: Server, demo: Loaded, params: dict[str, str], message: str
) -> None:
    response = api(server, **{"project": PROJECT, "agent": "support", **params})
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


def test_a_query_without_a_project_is_a_422(server: Server) -> None:
    assert api(server, baseline_version="1").status_code == 422


def test_a_suite_fails_when_drift_is_found(server: Server, demo: Loaded) -> None:
    suite = f"""
name: drift-check
select: {{project: {PROJECT}, agent: support, agent_version: "1.5"}}
evaluators:
  - step_budget: {{max_steps: 12}}
  - drift: {{baseline: {{version: "1.4"}}}}
thresholds:
  drift: {{max_drifted: 0}}
"""
    result = run_suite(server.engine, load_suite(suite))
    assert result.status == "failed"
    extra = result.summary["evaluators"]["drift"]["extra"]
    assert extra["drifted"] > 0 and "input_tokens" in extra["drifted_metrics"]
    assert result.summary["thresholds"] == [
        {"evaluator": "drift", "check": "max_drifted", "limit": 0, "actual": extra["drifted"],
         "held": False}
    ]  # fmt: skip
    # The scores of step_budget (listed first) drift too: the baseline has none yet.
    assert verdicts(extra)["score:step_budget.steps"] == "not enough data"
    again = run_suite(server.engine, load_suite(suite.replace('"1.5"', '"1.4"', 1)))
    # 1.4 against itself; its baseline scores are the ones this run just stored.
    assert (
        again.status == "passed" and again.summary["evaluators"]["drift"]["extra"]["drifted"] == 0
    )

    page = httpx.get(f"{server.url}/evals/runs/{result.run_id}", timeout=30)
    assert page.status_code == 200
    rows = {row.attributes["data-metric"]: row for row in Tables(page.text).of("drift-metric")}
    assert "verdict-drifted" in rows["input_tokens"].attributes["class"]
    assert page.text.count("<svg") >= 10


def test_a_suite_whose_baseline_is_not_marked_fails_before_scoring(
    server: Server, demo: Loaded
) -> None:
    suite = f"name: drift-known-good\nselect: {{project: {PROJECT}}}\nevaluators: [drift]\n"
    with pytest.raises(RunError, match="no known-good version marked"):
        run_suite(server.engine, load_suite(suite))


def send_hostile(server: Server) -> None:
    """Two versions of an agent whose tools and models have names an attacker chose."""
    ids = Ids("drift-hostile")
    spans = []
    for index in range(24):
        version = "h1" if index % 2 else "h2"
        agent = {"gen_ai.agent.name": f"helper{IMG}", "gen_ai.agent.version": version}
        trace, root = ids.trace(), ids.span()
        start = T0 + index * SECOND
        root_attributes = {"gen_ai.operation.name": "invoke_agent", **agent}
        spans.append(SpanSpec(trace, root, "invoke_agent", start, start + SECOND // 2,
                              attributes=root_attributes))  # fmt: skip
        tools = (SCRIPT, IMG) if version == "h1" else (IMG, SCRIPT, SCRIPT)
        for step, tool in enumerate(tools):
            at = start + (step + 1) * 1000
            chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": SCRIPT,
                    "gen_ai.usage.input_tokens": 10, **agent}  # fmt: skip
            call = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, **agent}
            spans.append(SpanSpec(trace, ids.span(), f"chat {SCRIPT}", at, at + 400, root, chat))
            spans.append(SpanSpec(trace, ids.span(), "execute_tool", at + 500, at + 900, root,
                                  call, error=IMG if step else None))  # fmt: skip
    response = post(server.url, request(spans), project=HOSTILE_PROJECT)
    assert response.status_code == 200, response.text


def test_in_a_browser_the_form_checks_drift_and_hostile_names_stay_text(
    server: Server, watched: Watched, tmp_path: Path
) -> None:
    send_hostile(server)
    browser = watched.page
    requested: list[str] = []
    browser.on("request", lambda sent: requested.append(sent.url))
    browser.goto(f"{server.url}/drift?project={HOSTILE_PROJECT}")
    browser.fill('input[name="agent"]', f"helper{IMG}")
    browser.fill('input[name="version"]', "h2")
    browser.fill('input[name="baseline_version"]', "h1")
    with browser.expect_navigation():
        browser.click('form.drift-form button[type="submit"]')
    assert browser.locator("table.drift-metrics tr.drift-metric").count() == 15
    assert browser.locator("figure.chart svg").count() >= 8
    assert browser.locator('input[name="agent"]').input_value() == f"helper{IMG}"
    text = browser.locator("section.drift-report").inner_text()
    assert SCRIPT in text and "not enough data" in text  # 12 traces a side: no verdict
    chart = browser.locator('figure[data-metric="tool_mix"]')
    assert SCRIPT[:17] in chart.inner_text()  # pygal shortens long labels
    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert browser.locator("section.drift-report img, section.drift-report script").count() == 0
    browser.screenshot(path=str(tmp_path / "drift.png"), full_page=True)
    assert all(url.startswith(server.url) for url in requested), requested
    watched.assert_clean()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("drift: {baseline: {version: '1', known_good: true}}", "exactly one of"),
        ("drift: {metrics: [cost, steps]}", "unknown metric 'cost'"),
        ("drift: {baseline: {window: {}}}", "a window needs since or until"),
        ("drift: {thresholds: {psi: 0}}", "thresholds.psi"),
    ],
)
def test_a_suite_with_bad_drift_options_is_refused(options: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite(f"name: s\nevaluators:\n  - {options}\n")


def test_max_drifted_is_a_drift_threshold_only() -> None:
    suite = "name: s\nevaluators: [{step_budget: {max_steps: 3}}]\n"
    with pytest.raises(SuiteError, match="only drift has drifted metrics"):
        load_suite(suite + "thresholds: {step_budget: {max_drifted: 0}}\n")


def test_by_default_what_runs_now_is_held_to_the_known_good_version(
    server: Server, demo: Loaded
) -> None:
    marked = httpx.put(
        f"{server.url}/api/known-good",
        json={"project": PROJECT, "agent": "support", "version": "1.4"},
    )
    assert marked.status_code == 200, marked.text
    try:
        response = api(server, project=PROJECT, agent="support")
        assert response.status_code == 200, response.text
        report = response.json()
        facts = demo.summary.agents()
        assert report["baseline"]["label"] == "known-good version 1.4"
        assert report["current"]["label"] == "support 1.5"  # the version running now
        assert report["baseline"]["traces"] == facts["support 1.4"]
        assert report["current"]["traces"] == facts["support 1.5"]
        assert verdicts(report)["input_tokens"] == "drifted"
        # A suite whose drift baseline is the known-good version now runs.
        suite = (
            f"name: drift-known-good-marked\nselect: {{project: {PROJECT}, agent: support,"
            " agent_version: '1.5'}\nevaluators: [drift]\nthresholds: {drift: {max_drifted: 0}}\n"
        )
        result = run_suite(server.engine, load_suite(suite))
        assert result.status == "failed"
    finally:
        httpx.delete(
            f"{server.url}/api/known-good", params={"project": PROJECT, "agent": "support"}
        )


def test_drift_across_a_suite_s_runs_is_a_series(server: Server, demo: Loaded) -> None:
    suite = load_suite(
        f"name: drift-series\nselect: {{project: {PROJECT}, agent: support,"
        " agent_version: '1.5'}\nevaluators:\n  - drift: {baseline: {version: '1.4'}}\n"
    )
    first, second = run_suite(server.engine, suite), run_suite(server.engine, suite)
    suite_id = httpx.get(f"{server.url}/api/suites", params={"project": PROJECT}).json()
    (found,) = [s["id"] for s in suite_id["suites"] if s["name"] == "drift-series"]
    series = httpx.get(f"{server.url}/api/suites/{found}/drift").json()
    assert [point["run_id"] for point in series["runs"]] == [first.run_id, second.run_id]
    for point in series["runs"]:
        assert point["drifted"] > 0 and point["baseline"] == "version 1.4"
        assert point["verdicts"]["input_tokens"] == "drifted"
        assert point["sizes"]["input_tokens"] >= 0.2  # PSI
    assert "input_tokens" in series["metrics"]
    page = httpx.get(f"{server.url}/evals/suites/{found}")
    assert page.status_code == 200
    assert "Metrics drifted per run" in page.text and 'data-metric="input_tokens"' in page.text
    assert httpx.get(f"{server.url}/api/suites/99999999/drift").status_code == 404
