"""Loops: an agent calling the same tool with the same arguments again after it worked.

``max_repeats`` is the number of successful identical calls (same tool, same canonical
arguments) a trace may make **in total**, not in a row: an agent that alternates
``lookup_order(A)``, ``search_kb(q)``, ``lookup_order(A)`` is looping too, and a model
call between two repeats (one step each) would break any "in a row" count. With
``max_repeats: 1`` any repeat of a call that already succeeded is a loop, the demo's
definition. Failed calls are not counted: retrying after an error is recovery (scored
by ``tool_recovery``), and runaway retries are bounded by ``step_budget``.

Verdict ``identical_calls`` per trace: the largest number of successful identical calls
(1 when nothing repeats, 0 without a successful tool call); fails over ``max_repeats``,
pointing at the first repeat of the worst call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.evaluator_options import LoopsOptions
from evals.evaluators.base import Evaluator, scores_frame
from evals.evaluators.steps import call_keys, tool_calls
from evals.frames import Chunk
from store.vocabulary import Status


class Loops(Evaluator):
    name = "loops"
    metric = "identical_calls"
    span_columns = frozenset({"tool_arguments"})
    options: LoopsOptions

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        ids = traces["trace_id"]
        limit = self.options.max_repeats
        calls = tool_calls(chunk.spans, ("tool_arguments",))
        calls = calls[(calls["status"] != Status.ERROR.value).to_numpy()]
        repeats = _repeats(calls).sort_values(["count", "at"], ascending=[False, True])
        worst = repeats.drop_duplicates("trace_id").set_index("trace_id")
        called_once = ids.isin(calls["trace_id"]).to_numpy(dtype=float)
        count = ids.map(worst["count"]).to_numpy(dtype=float)
        count = np.where(np.isnan(count), called_once, count)
        over = count > limit
        looped = worst[(worst["count"] > limit).to_numpy()]
        explanation = pd.Series(
            [
                f"{tool} called {n} times with the same arguments (at most {limit})"
                for tool, n in zip(looped["called"], looped["count"], strict=True)
            ],
            index=looped.index,
            dtype=object,
        )
        return scores_frame(
            {
                "trace_id": ids.to_numpy(),
                "span_id": ids.map(looped["span_id"]).to_numpy(dtype=object),
                "metric": self.metric,
                "value": count,
                "passed": ~over,
                "label": np.where(over, "loop", "no_loop"),
                "explanation": ids.map(explanation).to_numpy(dtype=object),
            }
        )


def _repeats(calls: pd.DataFrame) -> pd.DataFrame:
    """One row per call repeated in its trace (same tool, same canonical arguments):
    its ``trace_id``, the tool ``called``, the ``count`` of identical calls, and the
    ``span_id`` and chunk position (``at``) of the first repeat, where the loop began."""
    # Only a tool called twice in a trace can repeat: key just those calls.
    twice = calls.groupby(["trace_id", "called"], sort=False)["span_id"].transform("size") > 1
    calls = calls[twice.to_numpy()]
    keys = call_keys(calls)
    grouped = pd.Series(keys).groupby(keys, sort=False)
    count = grouped.transform("size").to_numpy()
    second = (count > 1) & (grouped.cumcount().to_numpy() == 1)
    repeats = calls.loc[second, ["trace_id", "called", "span_id"]]
    return repeats.assign(count=count[second], at=calls["position"].to_numpy()[second])
