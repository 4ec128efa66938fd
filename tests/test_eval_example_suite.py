"""The issue's example suite, as written, on realistic traffic: the demo's checkout
agent of the last day, a golden dataset, and a judge on 127.0.0.1:8399 (a loopback fake)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from evals.runner import run_suite
from evals.suite import load_suite
from reasonlens.cli import app
from tests.agent_runs import Run, send_runs
from tests.demo_data import load_demo
from tests.fake_judge import FakeJudge
from tests.server import Server
from tests.test_eval_suite import EXAMPLE

GOLDEN = (
    b'{"id": "g1", "input": "Where is my refund for order 1001?", '
    b'"expected_output": "Your refund was issued."}\n'
    b'{"id": "g2", "input": "Send me the invoice for order 1002", '
    b'"expected_output": "The invoice is on its way."}\n'
)


@pytest.fixture(scope="module")
def loaded(server: Server) -> Server:
    # The suite selects the last 24 hours: the demo's day ends now.
    load_demo(server, "default", traces=150, seed=3, anchor=datetime.now(UTC))
    send_runs(
        server,
        "default",
        [
            Run("Where is my refund for order 1001?", "Your refund was issued!", "g1"),
            Run("Send me the invoice for order 1002", "I cannot find that order.", "g2"),
        ],
        agent="checkout",
    )
    answer = httpx.post(
        f"{server.url}/api/datasets",
        params={"project": "default", "name": "checkout-golden"},
        content=GOLDEN,
        headers={"Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    return server


def test_the_example_suite_runs_as_written(loaded: Server) -> None:
    with FakeJudge(port=8399) as judge:
        result = run_suite(loaded.engine, load_suite(EXAMPLE))
    figures = result.summary["evaluators"]
    assert list(figures) == [
        "pii", "prompt_injection", "loops", "tool_policy", "step_budget", "cost_budget",
        "latency", "expected_output", "llm_judge",
    ]  # fmt: skip
    checkout = result.summary["selection"]["traces"]
    assert checkout > 20  # the demo's checkout traces of the day, and the two golden runs
    for name in ("pii", "prompt_injection", "loops", "tool_policy", "step_budget", "latency"):
        assert figures[name]["passed"] + figures[name]["failed"] == checkout, name
    # The demo's checkout agent skips approvals in a few traces: the policy catches them.
    assert figures["tool_policy"]["failed"] > 0
    # Only the two runs linked to golden items have a correctness verdict.
    golden = figures["expected_output"]
    assert (golden["passed"], golden["failed"]) == (1, 1)
    assert golden["not_applicable"] == checkout - 2
    # Traces with an answer went to the judge (identical prompts once), which said yes.
    assert 0 < judge.calls <= figures["llm_judge"]["passed"]
    assert figures["llm_judge"]["failed"] == 0
    assert figures["llm_judge"]["extra"]["input_tokens"] > 0
    # The demo's models are in the price registry: every trace has a cost and a verdict
    # (the two golden runs made no model call: they spent nothing).
    assert figures["cost_budget"]["not_applicable"] == 0
    assert 0 < figures["cost_budget"]["mean"] < 0.5
    held = {check["evaluator"]: check["held"] for check in result.summary["thresholds"]}
    assert set(held) == {"pii", "loops"}
    assert result.status == ("passed" if all(held.values()) else "failed")


def test_the_command_gates_on_it(loaded: Server, tmp_path: Path) -> None:
    path = tmp_path / "checkout-nightly.yaml"
    path.write_text(EXAMPLE)
    with FakeJudge(port=8399):
        done = CliRunner().invoke(app, ["eval", "run", str(path), "--db", loaded.database_url])
    assert done.exit_code in (0, 1), done.output
    assert "checkout-nightly" in done.output and "expected_output" in done.output
    assert ("passed" if done.exit_code == 0 else "FAILED") in done.output
