"""Budgets a trace must stay within: steps taken, money and tokens spent.

Both read the trace rollup only (no span rows), one vectorised comparison per chunk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.evaluator_options import CostBudgetOptions, StepBudgetOptions
from evals.evaluators.base import Evaluator, scores_frame
from evals.frames import Chunk
from evals.summary import known_cost


class StepBudget(Evaluator):
    """Steps are model calls plus tool calls: the decisions and actions an agent took."""

    name = "step_budget"
    metric = "steps"
    options: StepBudgetOptions

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        steps = traces["llm_call_count"] + traces["tool_call_count"]
        limit = self.options.max_steps
        over = steps > limit
        return scores_frame(
            {
                "trace_id": traces["trace_id"],
                "metric": self.metric,
                "value": steps.astype(float),
                "passed": ~over,
                "label": np.where(over, "over_budget", "within_budget"),
                "explanation": np.where(
                    over,
                    [f"{n} steps, over the budget of {limit}" for n in steps],
                    None,
                ),
            }
        )


class CostBudget(Evaluator):
    """Cost and tokens per trace. A trace with model calls and no cost is unpriced: it
    gets no verdict on money (never a pass at $0); the token budget still applies."""

    name = "cost_budget"
    metric = "cost_usd"
    options: CostBudgetOptions

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        # The known part of a partly priced trace is a floor: over the budget already
        # is a verdict; under it is not.
        spent = pd.to_numeric(traces["cost_usd"], errors="coerce")
        spent = spent.where(spent.notna() | (traces["llm_call_count"] > 0), 0.0)
        cost = known_cost(traces)
        unpriced = cost.isna()
        tokens = traces["input_tokens"] + traces["output_tokens"]
        usd_limit = self.options.max_usd_per_trace
        token_limit = self.options.max_tokens_per_trace
        over_usd = (spent > usd_limit) if usd_limit is not None else pd.Series(False, cost.index)
        over_tokens = (
            (tokens > token_limit) if token_limit is not None else pd.Series(False, cost.index)
        )
        failed = over_usd | over_tokens
        # No verdict only where money is the sole budget and it cannot be known.
        undecided = unpriced & ~over_usd & ~over_tokens & (usd_limit is not None)
        passed = pd.Series(~failed, dtype=object).where(~undecided, None)
        label = np.select(
            [over_usd, over_tokens, undecided],
            ["over_budget", "over_token_budget", "unpriced"],
            "within_budget",
        )
        explanation = [
            _explain(c, t, usd_limit, token_limit, is_over_usd, is_over_tokens, is_unpriced)
            for c, t, is_over_usd, is_over_tokens, is_unpriced in zip(
                spent, tokens, over_usd, over_tokens, unpriced & ~over_usd, strict=True
            )
        ]
        verdicts = scores_frame(
            {
                "trace_id": traces["trace_id"],
                "metric": self.metric,
                "value": cost.where(cost.notna(), spent.where(over_usd)),
                "passed": passed,
                "label": label,
                "explanation": explanation,
            }
        )
        token_rows = scores_frame(
            {"trace_id": traces["trace_id"], "metric": "tokens", "value": tokens.astype(float)}
        )
        return pd.concat([verdicts, token_rows], ignore_index=True)


def _explain(
    cost: float,
    tokens: int,
    usd_limit: float | None,
    token_limit: int | None,
    over_usd: bool,
    over_tokens: bool,
    unpriced: bool,
) -> str | None:
    parts = []
    if over_usd:
        parts.append(f"${cost:.4f}, over the budget of ${usd_limit:.4f} a trace")
    if over_tokens:
        parts.append(f"{tokens} tokens, over the budget of {token_limit}")
    if unpriced and usd_limit is not None:
        parts.append("unpriced: a model call has no price, so the cost is unknown")
    return "; ".join(parts) or None
