"""Comparing eval runs (``evals/compare.py``, ``GET /api/eval-runs/{b}/compare``) on real
traces: the demo's traffic through OTLP, runs through the real runner, and scores written
directly where a case needs exact control (dataset items, escalations).

Every figure is checked against what the database says independently: steps from the
trace rollups, tool calls from the span rows, verdicts from the score rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pandas as pd
import pytest

from evals.compare import (
    OUTPUT_CHARS,
    BadComparison,
    NoBaseline,
    RunComparison,
    UnknownRun,
    compare_runs,
)
from reasonlens.demo import Feature, Summary
from reasonlens.demo.script import ESCALATION_TOOL
from store.evals import NewScore
from store.run_compare import verdict_figures
from tests.compare_data import (
    IMG,
    SCRIPT,
    budget_suite,
    run,
    scored_run,
    set_baseline,
    steps,
    tools_called,
    trace_ids,
    verdicts,
)
from tests.demo_data import load_demo
from tests.server import Server
from web.eval_compare_schemas import RunComparisonOut

PROJECT = "eval-compare"
LOOSE, STRICT = 12, 7  # step budgets: run B is stricter than run A
TOKENS = 6000
VERDICTS = {"step_budget": "steps", "cost_budget": "cost_usd"}


@dataclass(frozen=True)
class Runs:
    server: Server
    a: int  # step budget LOOSE
    b: int  # step budget STRICT
    demo: Summary  # the generator's ground truth


@pytest.fixture(scope="module")
def runs(server: Server) -> Runs:
    loaded = load_demo(server, PROJECT, traces=150, seed=5)
    a = run(server.engine, budget_suite(PROJECT, "budgets", LOOSE, TOKENS))
    b = run(server.engine, budget_suite(PROJECT, "budgets", STRICT, TOKENS))
    return Runs(server, a.run_id, b.run_id, loaded.summary)


def _compare(server: Server, b: int, a: int | None = None, **options: object) -> RunComparison:
    with server.engine.connect() as connection:
        return compare_runs(connection, b, a, **options)  # type: ignore[arg-type]


def test_a_stricter_budget_regresses_exactly_the_traces_between_the_budgets(runs: Runs) -> None:
    c = _compare(runs.server, runs.b)  # A: the previous finished run of the suite
    assert (c.a.id, c.b.id, c.against, c.warnings) == (runs.a, runs.b, "previous", [])
    counted = steps(runs.server.engine, PROJECT)
    between = set(counted[(counted > STRICT) & (counted <= LOOSE)].index)
    assert 5 < len(between) < len(counted)  # the demo has traces on both sides

    line = next(m for m in c.metrics if m.evaluator == "step_budget")
    assert (line.metric, line.regressed, line.improved) == ("steps", len(between), 0)
    assert line.paired == len(counted) and (line.only_a, line.only_b) == (0, 0)
    assert line.a is not None and line.b is not None
    assert line.a.pass_rate == pytest.approx((counted <= LOOSE).mean())
    assert line.b.pass_rate == pytest.approx((counted <= STRICT).mean())
    assert line.pass_rate_delta == pytest.approx(-len(between) / len(counted))
    assert line.a.mean == line.b.mean == pytest.approx(counted.mean())
    assert line.mean_delta == pytest.approx(0)
    # The token budget did not change: no verdict moved.
    tokens = next(m for m in c.metrics if m.evaluator == "cost_budget")
    assert (tokens.metric, tokens.regressed, tokens.improved) == ("cost_usd", 0, 0)
    assert [m.evaluator for m in c.metrics] == ["cost_budget", "step_budget"]

    assert c.regressed.total == len(between) and c.improved.total == 0
    assert {key.key for key in c.regressed.rows} == between
    for key in c.regressed.rows:
        assert key.a.trace_id == key.b.trace_id == key.key and key.item_key is None
        assert (key.a.passed, key.b.passed) == (True, False)
        assert (key.a.label, key.b.label) == ("within_budget", "over_budget")
        assert key.b.value == counted[key.key] and key.b.explanation
        assert key.expected is None and key.a.output is None  # not a dataset evaluator


def test_a_finished_runs_summary_agrees_with_its_rows(runs: Runs) -> None:
    """Finished runs' figures come from their summaries: the same as counting the rows."""
    c = _compare(runs.server, runs.b)
    with runs.server.engine.connect() as connection:
        counted = verdict_figures(connection, runs.b, sorted(VERDICTS.items()))
    for row in counted.to_dict("records"):
        line = next(m for m in c.metrics if m.evaluator == row["evaluator"])
        assert line.b is not None
        assert (line.b.rows, line.b.passed, line.b.failed, line.b.values) == (
            row["rows"], row["passed"], row["failed"], row["values"],
        )  # fmt: skip
        assert line.b.mean == pytest.approx(None if pd.isna(row["mean"]) else row["mean"])


def test_the_other_way_round_the_same_traces_improved(runs: Runs) -> None:
    c = _compare(runs.server, runs.a, runs.b)
    assert c.against == "given" and c.regressed.total == 0
    assert c.improved.total == next(m.improved for m in c.metrics if m.evaluator == "step_budget")
    assert any("newer" in warning for warning in c.warnings)  # A is the later run


def test_lists_are_bounded_and_counted_in_full(runs: Runs) -> None:
    c = _compare(runs.server, runs.b, limit=3)
    assert len(c.regressed.rows) == 3 < c.regressed.total
    assert [k.key for k in c.regressed.rows] == sorted(k.key for k in c.regressed.rows)
    assert c.regressed.rows == _compare(runs.server, runs.b).regressed.rows[:3]


@pytest.mark.parametrize("evaluator", [None, "step_budget", "cost_budget"])
def test_tool_failure_rates_match_the_span_rows(runs: Runs, evaluator: str | None) -> None:
    c = _compare(runs.server, runs.b, evaluator=evaluator)
    chosen = {evaluator: VERDICTS[evaluator]} if evaluator else VERDICTS
    rows = verdicts(runs.server.engine, runs.b, chosen).dropna(subset=["passed"])
    failed = (~rows["passed"].astype(bool)).groupby(rows["trace_id"]).any()
    calls = tools_called(runs.server.engine, PROJECT)
    calls = calls[calls["trace_id"].isin(failed.index)]
    assert (c.tools.judged, c.tools.failed) == (len(failed), int(failed.sum()))
    assert c.tools.tool_count == calls["tool"].nunique() and c.tools.tools
    for line in c.tools.tools:
        callers = set(calls.loc[calls["tool"] == line.tool, "trace_id"])
        others = set(failed.index) - callers
        assert (line.called, line.called_failed) == (len(callers), int(failed[list(callers)].sum()))
        assert (line.not_called, line.not_called_failed) == (
            len(others),
            int(failed[list(others)].sum()),
        )
    differences = [line.difference for line in c.tools.tools if line.difference is not None]
    assert differences == sorted(differences, reverse=True)


def test_the_api_answers_what_the_comparison_holds(runs: Runs) -> None:
    url = f"{runs.server.url}/api/eval-runs/{runs.b}/compare"
    body = httpx.get(url, params={"limit": 4}, timeout=30).json()
    RunComparisonOut.model_validate(body)  # the documented fields, no more, no fewer
    c = _compare(runs.server, runs.b, limit=4)
    assert (body["a"]["id"], body["b"]["id"], body["against"]) == (runs.a, runs.b, "previous")
    assert body["b"]["suite"] == "budgets" and body["b"]["project"] == PROJECT
    assert body["verdicts"] == VERDICTS
    assert body["regressed"]["total"] == c.regressed.total
    assert [row["key"] for row in body["regressed"]["rows"]] == [k.key for k in c.regressed.rows]
    row = body["regressed"]["rows"][0]
    assert (row["a"]["passed"], row["b"]["passed"], row["a"]["run_id"]) == (True, False, runs.a)
    step = next(m for m in body["metrics"] if m["evaluator"] == "step_budget")
    line = next(m for m in c.metrics if m.evaluator == "step_budget")
    assert step["pass_rate_delta"] == pytest.approx(line.pass_rate_delta)
    assert step["b"]["pass_rate"] == pytest.approx(step["b"]["passed"] / 150)
    assert [t["tool"] for t in body["tools"]["tools"]] == [t.tool for t in c.tools.tools]
    narrowed = httpx.get(url, params={"against": runs.a, "evaluator": "step_budget"}, timeout=30)
    assert narrowed.json()["tools"]["evaluator"] == "step_budget"
    schema = httpx.get(f"{runs.server.url}/openapi.json", timeout=30).json()
    assert "RunComparisonOut" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"against": 999_999}, 404, "no eval run 999999"),
        ({"evaluator": "nope"}, 400, "no evaluator 'nope'"),
        ({"limit": 0}, 422, ""),
        ({"limit": 501}, 422, ""),
        ({"against": "x"}, 422, ""),
    ],
)
def test_api_errors(runs: Runs, params: dict[str, object], status: int, message: str) -> None:
    response = httpx.get(
        f"{runs.server.url}/api/eval-runs/{runs.b}/compare", params=params, timeout=30
    )
    assert response.status_code == status, response.text
    assert message in response.text


def test_unknown_runs_and_a_run_against_itself(runs: Runs) -> None:
    assert httpx.get(f"{runs.server.url}/api/eval-runs/999999/compare").status_code == 404
    itself = httpx.get(
        f"{runs.server.url}/api/eval-runs/{runs.b}/compare", params={"against": runs.b}
    )
    assert itself.status_code == 400 and "itself" in itself.json()["detail"]
    with pytest.raises(UnknownRun):
        _compare(runs.server, 999_999)
    with pytest.raises(BadComparison):
        _compare(runs.server, runs.b, runs.b)


def test_the_first_run_of_a_suite_has_nothing_to_compare_with(runs: Runs) -> None:
    first = run(runs.server.engine, budget_suite(PROJECT, "only-once", 5))
    with pytest.raises(NoBaseline):
        _compare(runs.server, first.run_id)
    response = httpx.get(f"{runs.server.url}/api/eval-runs/{first.run_id}/compare")
    assert response.status_code == 404 and "no run to compare with" in response.json()["detail"]


def test_the_suites_baseline_wins_and_unfinished_runs_are_skipped(runs: Runs) -> None:
    engine = runs.server.engine
    suite = budget_suite(PROJECT, "baselined", 9)
    first, second = run(engine, suite).run_id, run(engine, suite).run_id
    ids = trace_ids(engine, PROJECT)[:3]
    broken = scored_run(
        engine, PROJECT, "baselined", [NewScore(ids[0], "step_budget", "steps", 1.0, None, True)],
        status="error",
    )  # fmt: skip
    third = run(engine, suite).run_id
    assert _compare(runs.server, third).a.id == second  # not the run that died
    set_baseline(engine, first)
    chosen = _compare(runs.server, third)
    assert (chosen.a.id, chosen.against) == (first, "baseline")
    # The baseline run itself is held against the run before it: here, none.
    with pytest.raises(NoBaseline):
        _compare(runs.server, first)
    warned = _compare(runs.server, third, broken)
    assert any("stopped with an error" in w for w in warned.warnings)


def test_runs_of_different_suites_compare_with_a_warning(runs: Runs) -> None:
    other = run(runs.server.engine, budget_suite(PROJECT, "other-suite", STRICT, TOKENS))
    c = _compare(runs.server, other.run_id, runs.a)
    assert any("different suites" in warning for warning in c.warnings)
    same = next(m for m in c.metrics if m.evaluator == "step_budget")
    assert same.regressed == next(
        m.regressed for m in _compare(runs.server, runs.b).metrics if m.evaluator == "step_budget"
    )


def test_dataset_items_pair_by_key_across_different_traces(runs: Runs) -> None:
    """Two runs over the same dataset, each on its own traces; an item run twice fails
    when either run of it failed; outputs are shown clipped, and their absence is fine."""
    engine = runs.server.engine
    ids = trace_ids(engine, PROJECT)
    first, second = ids[:6], ids[6:13]
    long_output = "x" * (OUTPUT_CHARS + 500)

    def item(trace: str, key: str, passed: bool, output: str | None, **extra: object) -> NewScore:
        details: dict[str, object] = {"item_key": key, **extra}
        if output is not None:
            details |= {"expected": f"answer {key}", "output": output}
        return NewScore(trace, "expected_output", "match", float(passed), None, passed,
                        details=details)  # fmt: skip

    a = scored_run(engine, PROJECT, "golden", [
        item(first[0], "k1", True, "answer k1"),
        item(first[1], "k2", False, "wrong"),
        item(first[2], "k3", True, "answer k3"),
        item(first[3], "k4", False, "wrong"),
        item(first[4], "k5", True, "answer k5"),  # not in run B
        item(first[5], "k6", True, "answer k6"),
    ])  # fmt: skip
    b = scored_run(engine, PROJECT, "golden", [
        item(second[0], "k1", False, SCRIPT + long_output),
        item(second[1], "k2", True, None),  # the evaluator recorded no outputs
        item(second[2], "k3", True, "answer k3"),
        item(second[3], "k4", False, "still wrong"),
        item(second[4], "k6", True, "answer k6"),
        item(second[5], "k6", False, IMG),  # k6 ran twice in B: one failure fails it
        item(second[6], "k7", True, "answer k7"),  # new in B
    ])  # fmt: skip
    c = _compare(runs.server, b)
    assert c.a.id == a and c.verdicts == {"expected_output": "match"}
    [line] = c.metrics
    assert line.by_item and (line.paired, line.only_a, line.only_b) == (5, 1, 1)
    assert (line.regressed, line.improved, line.kept_passing, line.kept_failing) == (2, 1, 1, 1)
    assert [k.item_key for k in c.regressed.rows] == ["k1", "k6"]
    [improved] = c.improved.rows
    assert improved.item_key == "k2" and improved.a.trace_id == first[1]
    assert improved.b.trace_id == second[1] and improved.b.output is None
    assert improved.expected is not None and improved.expected.text == "answer k2"  # from A

    k1 = c.regressed.rows[0]
    assert (k1.a.trace_id, k1.b.trace_id) == (first[0], second[0])
    assert k1.expected is not None and k1.expected.text == "answer k1"
    assert k1.a.output is not None and k1.a.output.text == "answer k1"
    assert k1.b.output is not None and k1.b.output.truncated
    assert k1.b.output.length == len(SCRIPT) + len(long_output)
    assert len(k1.b.output.text) == OUTPUT_CHARS
    k6 = c.regressed.rows[1]
    assert k6.b.trace_id == max(second[4], second[5])
    body = httpx.get(f"{runs.server.url}/api/eval-runs/{b}/compare", timeout=30).json()
    RunComparisonOut.model_validate(body)
    first_row = body["regressed"]["rows"][0]
    assert first_row["item_key"] == "k1" and first_row["expected"]["text"] == "answer k1"
    assert first_row["b"]["output"]["length"] == len(SCRIPT) + len(long_output)


def test_escalation_steps_are_counted_per_run(runs: Runs) -> None:
    """The escalation evaluator's contract: verdict metric ``escalated``, passed = not
    escalated, value = the 1-based step, label = the tool."""
    engine = runs.server.engine
    ids = trace_ids(engine, PROJECT)

    def escalation(
        trace: str, step: int | None, tool: str | None = "escalate_to_human"
    ) -> NewScore:
        if step is None:
            return NewScore(trace, "escalation", "escalated", None, "not_escalated", True)
        return NewScore(trace, "escalation", "escalated", float(step), tool, False)

    a = scored_run(engine, PROJECT, "escalations", [
        escalation(ids[0], 2), escalation(ids[1], 2), escalation(ids[2], None),
        escalation(ids[3], None),
    ])  # fmt: skip
    b = scored_run(engine, PROJECT, "escalations", [
        escalation(ids[0], 2), escalation(ids[1], 5, "page_oncall"), escalation(ids[2], 5),
        escalation(ids[3], None), escalation(ids[4], 1, None),
    ])  # fmt: skip
    c = _compare(runs.server, b, a)
    [e] = c.escalations
    assert (e.a_judged, e.a_escalated, e.b_judged, e.b_escalated) == (4, 2, 5, 4)
    assert e.a_share == 0.5 and e.b_share == 0.8
    assert [(s.step, s.a, s.b) for s in e.steps] == [(1, 0, 1), (2, 2, 1), (5, 0, 2)]
    assert e.tools == [("escalate_to_human", 2, 2), (None, 0, 1), ("page_oncall", 0, 1)]
    # passed -> escalated is a regression of the escalation verdict.
    assert {k.key for k in c.regressed.rows} == {ids[2]}
    assert c.tools.judged == 5 and c.tools.failed == 4
    body = httpx.get(
        f"{runs.server.url}/api/eval-runs/{b}/compare", params={"against": a}, timeout=30
    ).json()
    RunComparisonOut.model_validate(body)
    [escalations] = body["escalations"]
    assert escalations["b"] == {"judged": 5, "escalated": 4, "share": 0.8}
    assert escalations["steps"] == [{"step": 1, "a": 0, "b": 1}, {"step": 2, "a": 2, "b": 1},
                                    {"step": 5, "a": 0, "b": 2}]  # fmt: skip


def test_the_escalation_evaluator_on_the_demo(runs: Runs) -> None:
    """Through the real evaluator: the escalated traces are the generator's, each at a
    step; with escalation as failure, calling escalate_to_human is what goes with it."""
    suite = f"name: handoffs\nselect: {{project: {PROJECT}}}\nevaluators: [escalation]\n"
    run(runs.server.engine, suite)
    second = run(runs.server.engine, suite).run_id
    c = _compare(runs.server, second, evaluator="escalation")
    escalated = runs.demo.count(Feature.ESCALATION)
    [e] = c.escalations
    assert e.a_escalated == e.b_escalated == escalated > 5
    assert e.a_judged == e.b_judged == len(runs.demo.traces)
    assert sum(step.b for step in e.steps) == escalated
    assert all(step.step is not None and step.step >= 1 and step.a == step.b for step in e.steps)
    assert [tool for tool, _, _ in e.tools] == [ESCALATION_TOOL]
    assert c.regressed.total == c.improved.total == 0  # the same traces, the same verdicts
    top = c.tools.tools[0]
    assert (top.tool, top.called, top.rate_called, top.rate_not_called) == (
        ESCALATION_TOOL, escalated, 1.0, 0.0,
    )  # fmt: skip


def test_a_run_in_progress_is_compared_with_a_warning(runs: Runs) -> None:
    engine = runs.server.engine
    ids = trace_ids(engine, PROJECT)
    a = scored_run(engine, PROJECT, "going", [
        NewScore(ids[0], "house_check", "ok", 1, None, True),
        NewScore(ids[0], "house_check", "size", 3),
    ])  # fmt: skip
    b = scored_run(engine, PROJECT, "going", [
        NewScore(ids[0], "house_check", "ok", 0, "broke", False),
        NewScore(ids[0], "house_check", "size", 9),
    ], status="running")  # fmt: skip
    c = _compare(runs.server, b)
    assert c.a.id == a and any("still running" in w for w in c.warnings)
    # No summary, no evaluator class of that name: the verdicts are where the rows say.
    assert c.verdicts == {"house_check": "ok"} and c.regressed.total == 1
