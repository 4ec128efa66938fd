"""The eval pages in Chromium, as a person uses them: load a suite file into the form,
run it, watch the run page reload itself when the run is done, keep the failures only
and click through to a trace; failing on any console error (a CSP violation included).
Text an attacker wrote runs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from store import evals as store_evals
from tests.browser import Watched
from tests.demo_data import load_demo
from tests.server import Server
from tests.test_page_evals import PROJECT, SUITE, send_hostile, suite_id_of, upload

FINISHED = ".eval-head .run-status:not(.run-running)"
SUMMARY = {
    "evaluators": {},
    "thresholds": [
        {
            "evaluator": "step_budget",
            "check": "pass_rate",
            "limit": 1,
            "actual": None,
            "held": False,
        }
    ],
    "selection": None,
    "duration_s": 0.5,
}


@pytest.fixture(scope="module")
def demo(server: Server) -> Server:
    load_demo(server, PROJECT, traces=80, seed=23)
    return server


def test_a_suite_file_is_loaded_run_and_its_failures_opened(
    demo: Server, watched: Watched, tmp_path: Path
) -> None:
    browser = watched.page
    browser.goto(f"{demo.url}/evals?project={PROJECT}")
    suite_file = tmp_path / "budgets.yaml"
    suite_file.write_text(SUITE.replace("nightly budgets", "from a file"))
    browser.locator("input[type=file]").set_input_files(str(suite_file))
    expect(browser.locator("#suite-definition")).to_have_value(suite_file.read_text())
    browser.get_by_role("button", name="Save suite").click()
    browser.wait_for_url("**/evals/suites/*")
    expect(browser.locator("h1")).to_contain_text("from a file")

    browser.get_by_role("button", name="Run now").click()
    browser.wait_for_url("**/evals/runs/*")
    # A running run polls its progress and the page reloads itself once it is done.
    browser.wait_for_selector(FINISHED, timeout=60_000)
    expect(browser.locator("table.eval-summary")).to_contain_text("step_budget")
    # Steps and cost (the demo is priced at ingest), loaded after the page.
    expect(browser.locator(".eval-charts svg")).to_have_count(2)
    everything = browser.locator("table.eval-results tbody tr").count()

    browser.locator("input[name=failed]").check()
    browser.locator("form.results-filter select").select_option("step_budget")
    browser.locator("form.results-filter button").click()
    browser.wait_for_url("**failed=1**")
    rows = browser.locator("table.eval-results tbody tr")
    assert 0 < rows.count() < everything
    assert rows.count() == browser.locator("table.eval-results .verdict.run-failed").count()
    expect(browser.locator("form.results-filter input[name=failed]")).to_be_checked()
    browser.screenshot(path=str(tmp_path / "eval-run.png"), full_page=True)

    first = rows.first.locator("a.trace-link")
    trace_id = (first.get_attribute("href") or "").split("/traces/")[1][:32]
    first.click()
    browser.wait_for_url(f"**/traces/{trace_id}?project={PROJECT}")
    browser.wait_for_selector(".wf-row")
    watched.assert_clean()


def test_the_run_now_button_on_the_list_page(demo: Server, watched: Watched) -> None:
    suite_id = suite_id_of(upload(demo, SUITE))
    browser = watched.page
    browser.goto(f"{demo.url}/evals?project={PROJECT}")
    row = browser.locator(
        "table.eval-suites tr", has=browser.locator(f'a[href="/evals/suites/{suite_id}"]')
    )
    row.get_by_role("button", name="Run now").click()
    browser.wait_for_url("**/evals/runs/*")
    browser.wait_for_selector(FINISHED, timeout=60_000)
    # The finished page then loads its charts: leaving before they arrive aborts them.
    browser.wait_for_load_state("networkidle")
    browser.goto(f"{demo.url}/evals?project={PROJECT}")
    expect(row.locator(".run-status")).not_to_have_text("running")
    watched.assert_clean()


def test_a_running_run_reloads_its_page_when_it_finishes(demo: Server, watched: Watched) -> None:
    """A run scored by another process (the CLI, a scheduler): the page polls, and shows
    the verdict without a manual reload once the run row says it is done."""
    suite_id = suite_id_of(upload(demo, SUITE))
    with demo.engine.begin() as connection:
        run_id = store_evals.start_run(connection, suite_id, SUITE)
    browser = watched.page
    browser.goto(f"{demo.url}/evals/runs/{run_id}")
    expect(browser.locator("#run-progress")).to_contain_text("Running for")
    with demo.engine.begin() as connection:
        store_evals.finish_run(connection, run_id, "failed", 0, SUMMARY)
    browser.wait_for_selector(".eval-head .run-status.run-failed", timeout=15_000)
    assert browser.locator("#run-progress").count() == 0
    expect(browser.locator("table.eval-thresholds")).to_contain_text("failed")
    watched.assert_clean()


def test_hostile_text_runs_nothing_in_chromium(server: Server, watched: Watched) -> None:
    suite_id, run_id, broken = send_hostile(server)
    browser = watched.page
    for path in (
        f"/evals/suites/{suite_id}",
        f"/evals/runs/{run_id}",
        f"/evals/runs/{run_id}?failed=1",
        f"/evals/runs/{broken}",
    ):
        browser.goto(f"{server.url}{path}")
        # The charts load after the page: leaving before they arrive aborts them.
        browser.wait_for_load_state("networkidle")
        assert browser.evaluate("typeof window.__xss") == "undefined"
    assert "<script>window.__xss=1</script>" in browser.locator("main").inner_text()
    browser.goto(f"{server.url}/evals/runs/{run_id}?failed=1")
    browser.wait_for_load_state("networkidle")
    names = browser.locator("table.eval-results a.trace-link").all_inner_texts()
    assert "<script>window.__xss=1</script>" in names
    browser.locator("table.eval-results a.trace-link").first.click()
    browser.wait_for_selector(".wf-row")
    assert browser.evaluate("typeof window.__xss") == "undefined"
    watched.assert_clean()
