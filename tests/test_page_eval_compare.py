"""``/evals/compare``: two runs side by side as a page, on the demo's traffic and the real
runner; errors as pages; everything a client or an evaluator wrote shown as text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from store.evals import NewScore
from tests.compare_data import IMG, SCRIPT, budget_suite, run, scored_run, trace_ids
from tests.demo_data import load_demo
from tests.otlp import SpanSpec, post, request
from tests.server import Server
from tests.trace_pages import JS_URL, Html, read

PROJECT = "page-eval-compare"
HOSTILE = "page-eval-compare-hostile"
T0 = 1_780_000_000_000_000_000


@dataclass(frozen=True)
class Runs:
    server: Server
    a: int
    b: int


@pytest.fixture(scope="module")
def runs(server: Server) -> Runs:
    load_demo(server, PROJECT, traces=60, seed=3)
    a = run(server.engine, budget_suite(PROJECT, "budgets", max_steps=12))
    b = run(server.engine, budget_suite(PROJECT, "budgets", max_steps=7))
    return Runs(server, a.run_id, b.run_id)


def _get(server: Server, **params: object) -> httpx.Response:
    return httpx.get(f"{server.url}/evals/compare", params=params, timeout=30)  # type: ignore[arg-type]


def _page(server: Server, **params: object) -> tuple[str, Html]:
    response = _get(server, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text, read(response.text)


def test_a_run_against_the_previous_one(runs: Runs) -> None:
    html, page = _page(runs.server, b=runs.b)
    assert f"Run {runs.b} vs run {runs.a}" in page.text
    assert "the previous finished run" in page.text
    # The evaluator table: a row per verdict, its regressions linked.
    assert 'data-evaluator="step_budget"' in html and 'data-evaluator="cost_budget"' in html
    body = httpx.get(f"{runs.server.url}/api/eval-runs/{runs.b}/compare").json()
    regressed = body["regressed"]["total"]
    assert regressed > 0 and f"Regressed · {regressed}" in page.text
    assert html.count('class="ec-change"') == min(regressed, 50)
    # Links: each regressed trace in both runs, the runs, the JSON twin, the swap.
    for row in body["regressed"]["rows"]:
        assert f"/traces/{row['key']}?project={PROJECT}" in page.hrefs
    assert {f"/evals/runs/{runs.a}", f"/evals/runs/{runs.b}"} <= set(page.hrefs)
    assert f"/api/eval-runs/{runs.b}/compare?against={runs.a}" in page.hrefs
    assert f"/evals/compare?a={runs.b}&b={runs.a}" in page.hrefs
    # The tool table: the demo's tools, each with its counts.
    tools = [tool["tool"] for tool in body["tools"]["tools"]]
    assert tools and all(f'data-tool="{tool}"' in html for tool in tools)
    assert "failing any verdict" in page.text and "failing step_budget" in page.text
    # JSON and page agree: the API of the page's numbers.
    assert f"{body['tools']['failed']} of {body['tools']['judged']} judged traces" in page.text


def test_narrowed_to_one_evaluator_and_limited(runs: Runs) -> None:
    html, page = _page(runs.server, a=runs.a, b=runs.b, evaluator="cost_budget", limit=2)
    assert "Regressed · 0 on cost_budget" in page.text
    assert "the cost_budget verdict" in page.text
    assert '<option value="cost_budget" selected>' in html
    _, step = _page(runs.server, a=runs.a, b=runs.b, evaluator="step_budget", limit=2)
    assert step.text.count("the first 2 are listed") == 1  # regressed, not improved
    assert f"/evals/compare?a={runs.a}&b={runs.b}&evaluator=step_budget&limit=500#regressed" in (
        step.hrefs
    )


def test_without_a_run_the_page_asks_for_one(runs: Runs) -> None:
    html, page = _page(runs.server)
    assert "Compare eval runs" in page.text and 'name="b"' in html
    _, blank = _page(runs.server, a="", b="")  # the empty form, submitted
    assert "Compare eval runs" in blank.text


# (name, query given runs A and B of the fixture, status, message)
ERRORS = [
    ("unknown run", lambda a, b: {"b": 999_999}, 404, "no eval run 999999"),
    ("b not an id", lambda a, b: {"b": "x1"}, 400, "b must be a run id"),
    ("a not an id", lambda a, b: {"b": b, "a": "\u00b2"}, 400, "a must be a run id"),
    ("itself", lambda a, b: {"b": b, "a": b}, 400, "compared with itself"),
    ("evaluator", lambda a, b: {"b": b, "evaluator": "nope"}, 400, "no evaluator"),
    ("limit", lambda a, b: {"b": b, "limit": 0}, 400, "limit"),
    ("first run", lambda a, b: {"b": a}, 404, "no run to compare with"),
]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [error[1:] for error in ERRORS],
    ids=[error[0] for error in ERRORS],
)
def test_errors_are_pages(
    runs: Runs, query: Callable[[int, int], dict[str, object]], status: int, message: str
) -> None:
    response = _get(runs.server, **query(runs.a, runs.b))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text and "Traceback" not in response.text


@pytest.fixture(scope="module")
def hostile(server: Server) -> Runs:
    """Runs whose every evaluator-written or client-written field is an attack: tool
    names (spans), evaluator names, labels, explanations, item keys, outputs."""
    trace_id, root, tool = "f1" * 16, "f1" * 8, "f2" * 8
    spans = [
        SpanSpec(trace_id, root, SCRIPT, T0, T0 + 9_000_000, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": IMG}),
        SpanSpec(trace_id, tool, JS_URL, T0 + 1_000_000, T0 + 2_000_000, root, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": IMG + SCRIPT}),
    ]  # fmt: skip
    assert post(server.url, request(spans), project=HOSTILE).status_code == 200
    [trace] = trace_ids(server.engine, HOSTILE)

    def scores(passed: bool) -> list[NewScore]:
        details = {"item_key": SCRIPT, "expected": IMG, "output": SCRIPT + JS_URL}
        return [
            NewScore(trace, SCRIPT, IMG, 1.0, SCRIPT, passed, IMG + JS_URL, details=details),
            NewScore(trace, IMG, "escalated", 2.0 if not passed else None, JS_URL + IMG,
                     passed, SCRIPT),
        ]  # fmt: skip

    a = scored_run(server.engine, HOSTILE, SCRIPT, scores(True))
    b = scored_run(server.engine, HOSTILE, SCRIPT, scores(False))
    return Runs(server, a, b)


def test_hostile_text_is_escaped(hostile: Runs) -> None:
    html, page = _page(hostile.server, b=hostile.b)
    assert SCRIPT not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert not any(href.lower().startswith("javascript:") for href in page.hrefs)
    text = page.text
    assert f"item {SCRIPT}" in text  # the dataset item, its expected and actual output
    assert IMG in text and SCRIPT + JS_URL in text
    assert f"failing {SCRIPT}" in text  # the evaluator select
    assert "Escalations" in text and JS_URL + IMG in text  # the escalation tool
    assert IMG + SCRIPT in text  # the tool table
    # Narrowing by a hostile evaluator name round-trips through the URL.
    _, narrowed = _page(hostile.server, b=hostile.b, evaluator=SCRIPT)
    assert f"Regressed · 1 on {SCRIPT}" in narrowed.text
