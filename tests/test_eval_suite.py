"""Reading eval suites: the issue's example as written, and errors that name line and field."""

from __future__ import annotations

import pytest

from evals.evaluator_options import (
    CostBudgetOptions,
    LlmJudgeOptions,
    LoopsOptions,
    ToolPolicyOptions,
)
from evals.suite import SuiteError, load_suite

EXAMPLE = """\
name: checkout-nightly
select: {project: default, agent: checkout, since: 24h}
evaluators:
  - pii
  - prompt_injection
  - loops: {max_repeats: 3}
  - tool_policy: {require_approval: [refund, send_email], approval_tools: [request_approval], forbidden: [delete_account]}
  - step_budget: {max_steps: 25}
  - cost_budget: {max_usd_per_trace: 0.50}
  - latency: {max_ms: 30000}
  - expected_output: {dataset: checkout-golden, match: normalized}
  - llm_judge: {endpoint: "http://127.0.0.1:8399/v1", model: judge-1, rubric: "Is the final answer correct and grounded in the tool results?"}
thresholds:
  pii: {pass_rate: 1.0}
  loops: {pass_rate: 0.95}
"""  # noqa: E501


def test_the_issue_example_reads_as_written() -> None:
    suite = load_suite(EXAMPLE, "checkout.yaml")
    assert suite.name == "checkout-nightly"
    assert (suite.select.project, suite.select.agent, suite.select.since) == (
        "default",
        "checkout",
        "24h",
    )
    assert [spec.name for spec in suite.evaluators] == [
        "pii", "prompt_injection", "loops", "tool_policy", "step_budget", "cost_budget",
        "latency", "expected_output", "llm_judge",
    ]  # fmt: skip
    options = {spec.name: spec.options for spec in suite.evaluators}
    assert options["loops"] == LoopsOptions(max_repeats=3)
    assert options["tool_policy"] == ToolPolicyOptions(
        require_approval=["refund", "send_email"],
        approval_tools=["request_approval"],
        forbidden=["delete_account"],
    )
    assert options["cost_budget"] == CostBudgetOptions(max_usd_per_trace=0.5)
    judge = options["llm_judge"]
    assert isinstance(judge, LlmJudgeOptions) and judge.model == "judge-1"
    assert suite.thresholds["pii"].pass_rate == 1.0
    assert suite.thresholds["loops"].pass_rate == 0.95
    assert suite.source == EXAMPLE


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("  - loops: {max_repeats: 3}", "  - loops: {max_repeats: 0}"),
            "checkout.yaml:6:26: evaluators[2].loops.max_repeats: Input should be greater",
        ),
        (
            ("  - step_budget: {max_steps: 25}", "  - step_budget: {max_stpes: 25}"),
            "checkout.yaml:8:30: evaluators[4].step_budget.max_stpes: Extra inputs",
        ),
        (
            ("  - latency: {max_ms: 30000}", "  - latncy: {max_ms: 30000}"),
            "checkout.yaml:10:5: evaluators[6]: unknown evaluator 'latncy'",
        ),
        (
            ("select: {project: default, agent: checkout, since: 24h}", "select: {statuz: ok}"),
            "checkout.yaml:2:18: select.statuz: Extra inputs are not permitted",
        ),
        (
            ("  loops: {pass_rate: 0.95}", "  loops: {pass_rate: 1.5}"),
            "checkout.yaml:15:22: thresholds.loops.pass_rate: Input should be less than",
        ),
        (
            ("  pii: {pass_rate: 1.0}", "  pll: {pass_rate: 1.0}"),
            "checkout.yaml:14:8: thresholds.pll: no evaluator 'pll' in this suite",
        ),
        (
            ("approval_tools: [request_approval], ", ""),
            "checkout.yaml:7:18: evaluators[3].tool_policy: require_approval needs approval_tools",
        ),
        (
            ("name: checkout-nightly\n", "name: [oops\n"),
            "checkout.yaml:2:7: not valid YAML",
        ),
    ],
)
def test_a_bad_suite_names_its_line_and_field(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(SuiteError) as caught:
        load_suite(EXAMPLE.replace(old, new, 1), "checkout.yaml")
    assert str(caught.value).startswith(expected), str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just a list", "a suite is a mapping"),
        ("name: x\nevaluators: []", "evaluators: List should have at least 1 item"),
        ("evaluators: [pii]", "name: Field required"),
        ("name: x\nevaluators:\n  - {pii: null, loops: null}", "one evaluator per item"),
    ],
)
def test_structural_mistakes_are_refused(text: str, expected: str) -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(text, "s.yaml")
    assert expected in str(caught.value)


def test_bare_names_and_empty_options_take_the_defaults() -> None:
    suite = load_suite("name: quick\nevaluators:\n  - loops\n  - pii: {}\n  - prompt_injection:\n")
    assert suite.evaluators[0].options == LoopsOptions()
    assert suite.select.project == "default"
