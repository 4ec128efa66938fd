"""The eval pages on a real server: suites pasted through the form (and refused inline),
"Run now" through to a finished run's page, its figures equal to the API's, its results
filtered and paged to the end, and text written by an attacker shown as text."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape

from store import evals as store_evals
from store.models import EvalSuite
from tests.demo_data import load_demo
from tests.otlp import Ids
from tests.server import Server
from tests.test_api_evals import EVERY
from tests.test_page_traces import HOSTILE, SECOND, send_trace
from tests.trace_pages import read

PROJECT = "page-evals"
HOSTILE_PROJECT = "page-evals-<script>window.__xss=1</script>"
TRACES = 120
T0 = 1_764_000_000_000_000_000
SUITE = f"""\
name: nightly budgets
select: {{project: {PROJECT}}}
evaluators:
  - step_budget: {{max_steps: 6}}
  - cost_budget: {{max_tokens_per_trace: 9000}}
thresholds:
  step_budget: {{pass_rate: 0.99}}
"""
HTMX = {"HX-Request": "true"}
_ROW = re.compile(r'<a class="trace-link" href="(/traces/[0-9a-f]{32}\?[^"]*)"')


@pytest.fixture(scope="module")
def demo(server: Server) -> Server:
    load_demo(server, PROJECT, traces=TRACES, seed=21)
    return server


def upload(server: Server, definition: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/evals/suites", data={"definition": definition}, headers=headers
    )


def suite_id_of(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/evals/suites/\d+", location), location
    return int(location.rsplit("/", 1)[1])


def run_now(server: Server, suite_id: int, timeout: float = 60) -> int:
    """Press "Run now" and wait for the run to finish; its id."""
    response = httpx.post(f"{server.url}/evals/suites/{suite_id}/run")
    assert response.status_code == 303, response.text
    run_id = int(response.headers["location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/api/eval-runs/{run_id}").json()
        if run["status"] != "running":
            assert run["status"] != "error", run["error"]
            return run_id
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def page(server: Server, path: str, **params: Any) -> httpx.Response:
    response = httpx.get(f"{server.url}{path}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response


def result_links(html: str) -> list[str]:
    """The results' trace links, entities decoded."""
    return [link.replace("&amp;", "&") for link in _ROW.findall(html)]


@pytest.fixture(scope="module")
def finished(demo: Server) -> tuple[int, int, int]:
    """The suite, pasted through the form, and two runs of it: (suite, first, second)."""
    suite_id = suite_id_of(upload(demo, SUITE))
    return suite_id, run_now(demo, suite_id), run_now(demo, suite_id)


def test_the_evals_page_lists_suites_and_recent_runs(
    demo: Server, finished: tuple[int, int, int]
) -> None:
    suite_id, first, second = finished
    html = page(demo, "/evals", project=PROJECT).text
    assert f'href="/evals/suites/{suite_id}">nightly budgets</a>' in html
    assert f'action="/evals/suites/{suite_id}/run"' in html
    run = httpx.get(f"{demo.url}/api/eval-runs/{second}").json()
    step_rate = run["evaluators"]["step_budget"]["pass_rate"]
    assert f"step_budget</span> {100 * step_rate:.1f}%" in html
    assert html.index(f'href="/evals/runs/{second}">#{second}') < html.index(
        f'href="/evals/runs/{first}">#{first}'
    )
    assert 'aria-current="page">Evals</a>' in html
    # The form's example names this project.
    assert f"select: {{project: &#34;{PROJECT}&#34;" in html


def test_the_suite_page_shows_its_definition_and_history(
    demo: Server, finished: tuple[int, int, int]
) -> None:
    suite_id, first, second = finished
    html = page(demo, f"/evals/suites/{suite_id}").text
    assert f'<pre class="suite-definition">{escape(SUITE)}</pre>' in html
    assert html.index(f"#{second}</a>") < html.index(f"#{first}</a>")
    assert html.count('class="badge run-status') == 2
    assert '<th class="num">step_budget' in html and '<th class="num">cost_budget' in html


def test_a_bad_suite_is_shown_inline_with_what_was_sent(demo: Server) -> None:
    sent = 'name: "<b>x</b>"\nevaluators:\n  - step_budget: {max_steps: 0}\n'
    response = upload(demo, sent)
    assert response.status_code == 400
    html = response.text
    assert "suite:3:30: evaluators[0].step_budget.max_steps: Input should be greater" in html
    assert f">{escape(sent)}</textarea>" in html and "<b>x</b>" not in html
    assert 'role="alert"' in html
    assert upload(demo, "").status_code == 400
    assert upload(demo, "name: [").status_code == 400


def test_the_run_page_shows_the_runs_figures(demo: Server, finished: tuple[int, int, int]) -> None:
    suite_id, first, second = finished
    run = httpx.get(f"{demo.url}/api/eval-runs/{second}").json()
    html = page(demo, f"/evals/runs/{second}").text
    text = read(html).text
    steps = run["evaluators"]["step_budget"]
    assert f"{100 * steps['pass_rate']:.1f}%" in text
    assert f"{TRACES} traces selected" in text
    held_now = run["thresholds"][0]["held"]
    assert f"thresholds {int(held_now)}/1 held" in text
    assert f'run-status run-{run["status"]}">{run["status"]}</span>' in html
    held = "held" if held_now else "failed"
    assert f"pass_rate {steps['pass_rate']:.4g} ≥ 0.99: {held}" in text
    # The demo's models are in the price registry: every trace is priced at ingest.
    assert run["selection"]["unpriced_traces"] == 0 and "all priced" in text
    assert run["selection"]["cost_per_success_usd"] > 0
    assert "unknown while traces are unpriced" not in text
    # One histogram per evaluator with values: steps and cost. They load after the
    # page, as a fragment for htmx or as a page of their own.
    assert f'hx-get="/evals/runs/{second}/charts" hx-trigger="load"' in html
    assert "<svg" not in html
    fragment = httpx.get(f"{demo.url}/evals/runs/{second}/charts", headers=HTMX).text
    assert fragment.count("<svg") == 2 and "step_budget: steps" in fragment
    assert "cost_budget: cost_usd" in fragment and "<html" not in fragment
    alone = page(demo, f"/evals/runs/{second}/charts").text
    assert "<html" in alone and alone.count("<svg") == 2
    assert f'href="/evals/compare?a={first}&amp;b={second}"' in html
    assert f'href="/evals/suites/{suite_id}"' in html
    first_html = page(demo, f"/evals/runs/{first}").text
    assert "compare with previous run" not in first_html


def test_a_chart_for_every_evaluator_with_values(demo: Server) -> None:
    suite_id = suite_id_of(upload(demo, EVERY.format(project=PROJECT)))
    run_id = run_now(demo, suite_id)
    run = httpx.get(f"{demo.url}/api/eval-runs/{run_id}").json()
    with_values = [name for name, f in run["evaluators"].items() if f["values"]]
    html = httpx.get(f"{demo.url}/evals/runs/{run_id}/charts", headers=HTMX).text
    charted = re.findall(r'<figure class="chart" data-evaluator="([^"]+)">', html)
    assert charted == with_values and html.count("<svg") == len(with_values)
    for figures in run["evaluators"].values():
        if figures["values"]:
            assert f"{figures['values']:,} {figures['metric']} values" in html
    assert read(html).text.count("passed") >= len(with_values)
    assert httpx.get(f"{demo.url}/evals/runs/{run_id}/charts", headers=HTMX).text == html


def test_the_results_filter_and_page_to_every_score(
    demo: Server, finished: tuple[int, int, int]
) -> None:
    _, _, run_id = finished
    scores = _api_scores(demo, run_id)
    failed = [s for s in scores if s["passed"] is False]
    step_failures = [s for s in failed if s["evaluator"] == "step_budget"]
    assert step_failures, "the demo data should have traces over 6 steps"

    seen = _walk(demo, f"/evals/runs/{run_id}", {"failed": "1"})
    assert sorted(seen) == sorted(f"/traces/{s['trace_id']}?project={PROJECT}" for s in failed)
    only_steps = _walk(demo, f"/evals/runs/{run_id}", {"failed": "1", "evaluator": "step_budget"})
    assert sorted(only_steps) == sorted(
        f"/traces/{s['trace_id']}?project={PROJECT}" for s in step_failures
    )
    everything = _walk(demo, f"/evals/runs/{run_id}", {})
    assert len(everything) == len(scores) == 3 * TRACES
    # The filter form keeps its state.
    html = page(demo, f"/evals/runs/{run_id}", evaluator="step_budget", failed="1").text
    assert '<option value="step_budget" selected>' in html
    assert 'name="failed" value="1" checked' in html
    # A trace link opens the trace page.
    trace_page = httpx.get(f"{demo.url}{seen[0]}")
    assert trace_page.status_code == 200


def _walk(server: Server, path: str, params: dict[str, str]) -> list[str]:
    """Follow the results' "Next page" links to the end; every trace link."""
    links: list[str] = []
    for _ in range(100):
        html = page(server, path, **params).text
        links += result_links(html)
        found = re.search(r'class="next-page" href="([^"]*)"', html)
        if found is None:
            return links
        target = urlsplit(found.group(1).replace("&amp;", "&").split("#")[0])
        params = {key: values[0] for key, values in parse_qs(target.query).items()}
    raise AssertionError("more than 100 pages")


def _api_scores(server: Server, run_id: int) -> list[dict[str, Any]]:
    scores, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = httpx.get(f"{server.url}/api/eval-runs/{run_id}/scores", params=params).json()
        scores += body["scores"]
        cursor = body["next_cursor"]
        if cursor is None:
            return scores


def test_a_running_run_polls_its_progress(demo: Server, finished: tuple[int, int, int]) -> None:
    """A run another process started (the CLI, a scheduler) reads as running here, and
    its progress line is polled until it has finished."""
    suite_id, _, done = finished
    with demo.engine.begin() as connection:
        running = store_evals.start_run(connection, suite_id, SUITE)
    html = page(demo, f"/evals/runs/{running}").text
    assert f'hx-get="/evals/runs/{running}/progress"' in html and 'hx-trigger="every 2s"' in html
    assert '<noscript><meta http-equiv="refresh"' in html
    assert "scoring…" in html
    fragment = page(demo, f"/evals/runs/{running}/progress").text
    assert 'id="run-progress"' in fragment and "progress is known to the server process" in fragment
    assert "<html" not in fragment
    finished_run = httpx.get(f"{demo.url}/evals/runs/{done}/progress")
    assert finished_run.status_code == 204 and finished_run.headers["hx-refresh"] == "true"
    done_html = page(demo, f"/evals/runs/{done}").text
    assert "/progress" not in done_html and "http-equiv" not in done_html


def test_a_baseline_run_is_offered_for_comparison(
    demo: Server, finished: tuple[int, int, int]
) -> None:
    suite_id, first, second = finished
    with demo.engine.begin() as connection:
        connection.execute(
            sa.update(EvalSuite).where(EvalSuite.id == suite_id).values(baseline_run_id=first)
        )
    try:
        html = page(demo, f"/evals/runs/{second}").text
        assert f'class="compare-baseline" href="/evals/compare?a={first}&amp;b={second}"' in html
        assert "compare-baseline" not in page(demo, f"/evals/runs/{first}").text
    finally:
        with demo.engine.begin() as connection:
            connection.execute(
                sa.update(EvalSuite).where(EvalSuite.id == suite_id).values(baseline_run_id=None)
            )


def test_unknown_and_bad_ids_are_error_pages(demo: Server) -> None:
    for path in ("/evals/suites/987654", "/evals/runs/987654", "/evals/runs/987654/progress"):
        response = httpx.get(f"{demo.url}{path}")
        assert response.status_code == 404 and "987654" in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert httpx.post(f"{demo.url}/evals/suites/987654/run").status_code == 404
    assert httpx.get(f"{demo.url}/evals/runs/x").status_code == 400
    assert httpx.get(f"{demo.url}/evals/runs/1?cursor=bogus").status_code == 400
    assert httpx.get(f"{demo.url}/evals", params={"project": "nope"}).status_code == 404


def test_forms_from_another_site_are_refused(demo: Server, finished: tuple[int, int, int]) -> None:
    suite_id = finished[0]
    cross = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    assert httpx.post(f"{demo.url}/evals/suites/{suite_id}/run", headers=cross).status_code == 403
    assert upload(demo, SUITE, **cross).status_code == 403
    json_body = httpx.post(f"{demo.url}/evals/suites", json={"definition": SUITE})
    assert json_body.status_code == 415


# --- Hostile text ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(server: Server) -> tuple[int, int, int]:
    return send_hostile(server)


def send_hostile(server: Server) -> tuple[int, int, int]:
    """Traces, a project, a suite and a run error, each written by an attacker: (suite
    id, finished run, errored run)."""
    ids = Ids("hostile-evals")
    for i, text in enumerate(HOSTILE):
        send_trace(server, HOSTILE_PROJECT, ids, T0 + i * SECOND, name=text, input_text=text,
                   output_text=text, agent=text, error=i % 2 == 1)  # fmt: skip
    name = HOSTILE[1].replace('"', "'")
    definition = (
        f'name: "{name}"\nselect: {{project: "{HOSTILE_PROJECT}"}}\n'
        "evaluators:\n  - step_budget: {max_steps: 1}\n"
        "  - cost_budget: {max_tokens_per_trace: 10}\n"
    )
    suite_id = suite_id_of(upload(server, definition))
    run_id = run_now(server, suite_id)
    with server.engine.begin() as connection:
        broken = store_evals.start_run(connection, suite_id, definition)
        store_evals.finish_run(connection, broken, "error", None, None, HOSTILE[0])
    return suite_id, run_id, broken


def test_hostile_text_is_shown_as_text(server: Server, hostile: tuple[int, int, int]) -> None:
    suite_id, run_id, broken = hostile
    pages = [
        page(server, "/evals", project=HOSTILE_PROJECT).text,
        page(server, f"/evals/suites/{suite_id}").text,
        page(server, f"/evals/runs/{run_id}").text,
        page(server, f"/evals/runs/{run_id}", failed="1").text,
        page(server, f"/evals/runs/{broken}").text,
    ]
    for html in pages:
        assert "<script>window" not in html and "<img src=x" not in html
        assert "<svg onload" not in html
        parsed = read(html)
        assert not [h for h in parsed.hrefs if h.strip().lower().startswith("javascript")]
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in pages[2]  # the project, a trace
    assert "The run did not finish: &lt;script&gt;" in pages[4]
    # Every hostile trace is listed, its name as text.
    text = read(pages[2]).text
    assert all(name in text for name in HOSTILE)
