"""Tool recovery: a failed tool call, and whether the agent got past it."""

from __future__ import annotations

import pandas as pd

from evals.evaluator_options import ToolRecoveryOptions
from evals.evaluators.recovery import ToolRecovery
from tests.eval_chunks import make_chunk, span, tool


def score(*traces: list[dict[str, object]]) -> pd.DataFrame:
    return ToolRecovery(ToolRecoveryOptions()).score(make_chunk(*traces))


def failing(name: str, error_type: str = "TimeoutError") -> dict[str, object]:
    return tool(name, '{"id": 1}', status="error", error_type=error_type)


def test_a_failure_the_run_never_got_past_is_unrecovered() -> None:
    chunk = make_chunk(
        [span("agent", status="error"), span("llm"), failing("refund"), span("llm")],
    )
    (row,) = ToolRecovery(ToolRecoveryOptions()).score(chunk).itertuples()
    assert (row.metric, row.value, row.passed, row.label) == (
        "recovered",
        1,
        False,
        "unrecovered",
    )
    assert row.span_id == chunk.spans["span_id"].iloc[2]
    assert "refund (TimeoutError) was not retried successfully" in row.explanation


def test_a_later_success_of_the_same_tool_or_a_completed_run_is_recovery() -> None:
    scores = score(
        # Retried (with other arguments) and succeeded, though the run failed later.
        [span("agent", status="error"), failing("lookup"), tool("lookup", '{"id": 2}')],
        # Not retried, but the agent worked around it: the run completed.
        [span("agent"), failing("web_search"), span("llm")],
        # Two failures, both got past.
        [span("agent"), failing("a"), failing("a"), tool("a")],
    )
    assert scores["passed"].tolist() == [True, True, True]
    assert scores["label"].tolist() == ["recovered"] * 3
    assert scores["value"].tolist() == [1, 1, 2]


def test_a_success_before_the_failure_or_of_another_tool_is_no_recovery() -> None:
    chunk = make_chunk(
        [span("agent", status="error"), tool("refund"), failing("refund"), tool("email")],
        [
            span("agent", status="error"),
            failing("lookup"),
            tool("lookup"),
            failing("refund", "PaymentError"),
        ],
    )
    scores = ToolRecovery(ToolRecoveryOptions()).score(chunk)
    assert scores["passed"].tolist() == [False, False]
    # The span to look at is the unrecovered failure, not the first one.
    second = chunk.spans[chunk.spans["trace_id"] == chunk.traces["trace_id"].iloc[1]]
    assert scores["span_id"].iloc[1] == second["span_id"].iloc[3]
    assert "refund (PaymentError)" in scores["explanation"].iloc[1]


def test_traces_where_no_tool_failed_get_no_verdict() -> None:
    scores = score(
        [span("agent"), tool("lookup")],
        [span("agent", status="error"), span("llm", status="error")],
        [span("agent")],
    )
    assert scores["passed"].tolist() == [None, None, None]
    assert scores["value"].isna().all() and scores["span_id"].isna().all()
    assert len(scores) == 3 and (scores["metric"] == "recovered").all()
