"""cost_budget on partly priced traces: the known part of the cost is a floor."""

from __future__ import annotations

import pytest

from evals.evaluator_options import CostBudgetOptions
from evals.evaluators.budgets import CostBudget
from tests.eval_chunks import make_chunk

LLM = {"kind": "llm", "input_tokens": 100, "output_tokens": 10}


@pytest.mark.parametrize(
    ("cost", "unpriced", "passed", "label"),
    [
        (0.30, 0, True, "within_budget"),
        (0.70, 0, False, "over_budget"),
        # One call has no price: under the budget so far decides nothing...
        (0.30, 1, None, "unpriced"),
        (None, 2, None, "unpriced"),
        # ...over it already is a verdict, whatever the unpriced call cost.
        (0.70, 1, False, "over_budget"),
    ],
)
def test_a_partly_priced_trace_is_judged_only_when_its_floor_decides(
    cost: float | None, unpriced: int, passed: bool | None, label: str
) -> None:
    chunk = make_chunk([LLM, LLM], cost_usd=cost, unpriced_count=unpriced, llm_call_count=2)
    scores = CostBudget(CostBudgetOptions(max_usd_per_trace=0.5)).score(chunk)
    verdict = scores[scores["metric"] == "cost_usd"].iloc[0]
    assert verdict["passed"] is passed or verdict["passed"] == passed
    assert verdict["label"] == label
    if passed is None:
        assert "unpriced" in verdict["explanation"]
