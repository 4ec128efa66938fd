"""A trace's scores on its page and in ``GET /api/traces/{id}``: every source (a suite run,
a person, the agent), grouped by evaluator, with links to the run and the span scored;
written by an attacker, shown as text."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from store.evals import NewScore, add_scores
from store.models import Project
from store.score_read import TRACE_SCORES
from tests.compare_data import budget_suite, run
from tests.otlp import SpanSpec, post, request
from tests.server import Server
from tests.trace_pages import HOSTILE, IMG, JS_URL, SCRIPT, Hostile, page, read
from web.schemas import TraceDetailOut, TraceScoreOut

PROJECT = "trace-scores"
T0 = 1_780_000_000_000_000_000


def _project_id(server: Server, name: str) -> int:
    with server.engine.connect() as connection:
        return int(
            connection.execute(sa.select(Project.id).where(Project.name == name)).scalar_one()
        )


def _send(
    server: Server, trace_id: str, tool_span: str, project: str = PROJECT, calls: int = 1
) -> None:
    """An agent that called a tool ``calls`` times (the first call is ``tool_span``)."""
    root = trace_id[:16]
    spans = [
        SpanSpec(trace_id, root, "answer", T0, T0 + 9_000_000, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}),
    ]  # fmt: skip
    for n in range(calls):
        span_id = tool_span if n == 0 else f"{n:016x}"
        start = T0 + (n + 1) * 1_000_000
        spans.append(SpanSpec(trace_id, span_id, "lookup", start, start + 500_000, root,
                              attributes={"gen_ai.operation.name": "execute_tool",
                                          "gen_ai.tool.name": "lookup_order"}))  # fmt: skip
    assert post(server.url, request(spans), project=project).status_code == 200


@pytest.fixture(scope="module")
def scored(server: Server) -> tuple[str, str, int]:
    """A trace scored by a suite run (step_budget), a person and the agent."""
    trace_id, tool_span = "5c" * 16, "5d" * 8
    _send(server, trace_id, tool_span)
    result = run(server.engine, budget_suite(PROJECT, "nightly", max_steps=5))
    with server.engine.begin() as connection:
        pid = _project_id(server, PROJECT)
        add_scores(connection, pid, [
            NewScore(trace_id, "helpfulness", "thumbs", 0.0, "thumbs_down", False,
                     "Never answered the question"),
        ], source="human")  # fmt: skip
        add_scores(connection, pid, [
            NewScore(trace_id, "self_check", "grounded", 0.93, "grounded", True,
                     span_id=tool_span),
        ], source="agent")  # fmt: skip
    return trace_id, tool_span, result.run_id


def test_the_page_shows_every_source_grouped_by_evaluator(
    server: Server, scored: tuple[str, str, int]
) -> None:
    trace_id, tool_span, run_id = scored
    response = httpx.get(f"{server.url}/traces/{trace_id}", params={"project": PROJECT})
    assert response.status_code == 200
    html = response.text
    assert 'class="trace-scores"' in html
    groups = [chunk.split('"', 1)[0] for chunk in html.split('data-evaluator="')[1:]]
    assert groups == ["cost_budget", "helpfulness", "self_check", "step_budget"]
    parsed = read(html)
    assert f"/evals/runs/{run_id}" in parsed.hrefs  # the run that wrote the eval scores
    assert f"/traces/{trace_id}?project={PROJECT}&span={tool_span}" in parsed.hrefs
    text = parsed.text
    for shown in ("thumbs_down", "Never answered the question", "human", "agent", "eval",
                  "within_budget", "0.93", "nightly", "1 failed", "3 passed"):  # fmt: skip
        assert shown in text, shown
    # The chain view has the panel too.
    chain = page(server, trace_id, PROJECT, view="chain")
    assert "Never answered the question" in chain.text


def test_the_api_lists_the_scores_as_documented(
    server: Server, scored: tuple[str, str, int]
) -> None:
    trace_id, tool_span, run_id = scored
    body = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": PROJECT}).json()
    TraceDetailOut.model_validate(body)
    scores = body["scores"]
    assert all(set(score) == set(TraceScoreOut.model_fields) for score in scores)
    assert [s["evaluator"] for s in scores] == [
        "cost_budget", "cost_budget", "helpfulness", "self_check", "step_budget",
    ]  # fmt: skip
    by_source = {s["source"] for s in scores}
    assert by_source == {"eval", "human", "agent"}
    step = next(s for s in scores if s["evaluator"] == "step_budget")
    assert (step["metric"], step["value"], step["passed"]) == ("steps", 1.0, True)
    assert (step["run_id"], step["suite"], step["run_url"]) == (
        run_id, "nightly", f"/evals/runs/{run_id}",
    )  # fmt: skip
    agent = next(s for s in scores if s["source"] == "agent")
    assert agent["span_id"] == tool_span and agent["run_id"] is None


def test_a_trace_scored_again_shows_its_newest_scores_and_folds_the_rest(server: Server) -> None:
    project, trace_id = "trace-scores-again", "7a" * 16
    _send(server, trace_id, "7b" * 8, project, calls=3)
    first = run(server.engine, budget_suite(project, "nightly", max_steps=5)).run_id
    second = run(server.engine, budget_suite(project, "nightly", max_steps=2)).run_id
    html = httpx.get(f"{server.url}/traces/{trace_id}", params={"project": project}).text
    parsed = read(html)
    # step_budget now fails (3 steps > 2): its pass in the first run is history; the
    # token budget passes (its verdict is the one of cost_budget's two metrics).
    assert "Scores 1 failed 1 passed 2 evaluators" in parsed.text
    assert "2 earlier scores" in parsed.text and "1 earlier score" in parsed.text
    assert {f"/evals/runs/{first}", f"/evals/runs/{second}"} <= set(parsed.hrefs)
    current = html.split("score-earlier-row")[0]
    assert f"/evals/runs/{second}" in current and f"/evals/runs/{first}" not in current


def test_a_trace_without_scores_has_no_panel(server: Server) -> None:
    trace_id = "5e" * 16
    _send(server, trace_id, "5f" * 8)
    html = httpx.get(f"{server.url}/traces/{trace_id}", params={"project": PROJECT}).text
    assert 'class="trace-scores"' not in html
    body = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": PROJECT}).json()
    assert body["scores"] == []


def test_many_scores_show_the_newest_and_say_how_many(server: Server) -> None:
    trace_id = "6a" * 16
    _send(server, trace_id, "6b" * 8)
    extra = 10
    with server.engine.begin() as connection:
        add_scores(
            connection,
            _project_id(server, PROJECT),
            [NewScore(trace_id, "thumbs", "up", float(i), None, True) for i in range(TRACE_SCORES)]
            + [NewScore(trace_id, "thumbs", "up", -1.0, "late", False)] * extra,
            source="human",
        )
    html = httpx.get(f"{server.url}/traces/{trace_id}", params={"project": PROJECT}).text
    assert f"the newest {TRACE_SCORES} of {TRACE_SCORES + extra} scores" in read(html).text
    body = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": PROJECT}).json()
    assert len(body["scores"]) == TRACE_SCORES


def test_hostile_scores_are_text(server: Server, hostile: Hostile) -> None:
    """Scores an attacker wrote (an agent's own, or feedback) never become markup."""
    with server.engine.begin() as connection:
        add_scores(connection, _project_id(server, HOSTILE), [
            NewScore(hostile.trace_id, SCRIPT, IMG, 1.0, SCRIPT, False, IMG + JS_URL,
                     span_id=hostile.tool, details={"output": SCRIPT}),
            NewScore(hostile.trace_id, IMG, JS_URL, None, IMG, None, SCRIPT),
        ], source="agent")  # fmt: skip
    response = httpx.get(f"{server.url}/traces/{hostile.trace_id}", params={"project": HOSTILE})
    assert response.status_code == 200
    html = response.text
    assert SCRIPT not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    parsed = read(html)
    assert not any(href.lower().startswith("javascript:") for href in parsed.hrefs)
    assert SCRIPT in parsed.text  # shown, as text
    body = httpx.get(f"{server.url}/api/traces/{hostile.trace_id}").json()
    assert {s["evaluator"] for s in body["scores"]} == {SCRIPT, IMG}
