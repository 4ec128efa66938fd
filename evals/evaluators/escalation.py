"""Escalation: did the run hand over to a person, and at which step?

Without ``tools`` the escalation tools are the store's (``ESCALATION_TOOL_PATTERNS``,
the same LIKE patterns on the lower-cased tool name), so this verdict agrees with the
trace's ``escalated`` rollup column the dashboard counts; with ``tools`` a tool call
escalates when its name is one of them, exactly as written.

Verdict ``escalated`` per trace (a contract other evaluators and pages rely on):
``passed`` is not escalated; ``value`` the 1-based step of the first escalation, where
steps are the trace's model and tool spans in start order (None when not escalated);
``label`` the escalation tool's name; ``span_id`` the escalating span.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.evaluator_options import EscalationOptions
from evals.evaluators.base import Evaluator, scores_frame
from evals.evaluators.steps import like_matcher, steps
from evals.frames import Chunk
from store.rollup import ESCALATION_TOOL_PATTERNS
from store.vocabulary import SpanKind

_STORE_ESCALATION = like_matcher(ESCALATION_TOOL_PATTERNS)


class Escalation(Evaluator):
    name = "escalation"
    metric = "escalated"
    options: EscalationOptions

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        taken = steps(chunk.spans, ("tool_name", "name"))
        calls = taken[(taken["kind"] == SpanKind.TOOL.value).to_numpy()]
        called = calls["tool_name"].fillna(calls["name"]).fillna("").to_numpy(dtype=object)
        escalates = pd.Series(called).isin(self._escalation_names(called)).to_numpy()
        first = calls[escalates].assign(called=called[escalates])
        first = first.drop_duplicates("trace_id").set_index("trace_id")
        total = taken.groupby("trace_id", sort=False)["step"].max()
        explanation = pd.Series(
            [
                f"handed over to a person with {name} at step {at} of {of}"
                for name, at, of in zip(
                    first["called"], first["step"], total.reindex(first.index), strict=True
                )
            ],
            index=first.index,
            dtype=object,
        )
        ids = traces["trace_id"]
        step = ids.map(first["step"]).to_numpy(dtype=float)
        return scores_frame(
            {
                "trace_id": ids.to_numpy(),
                "span_id": ids.map(first["span_id"]).to_numpy(dtype=object),
                "metric": self.metric,
                "value": step,
                "passed": np.isnan(step),
                "label": ids.map(first["called"]).to_numpy(dtype=object),
                "explanation": ids.map(explanation).to_numpy(dtype=object),
            }
        )

    def _escalation_names(self, called: np.ndarray) -> list[str]:
        """The distinct tool names of the chunk that escalate: a few names, not a
        regex per span."""
        names = pd.unique(called)
        if self.options.tools:
            wanted = set(self.options.tools)
            return [name for name in names if name in wanted]
        return [name for name in names if _STORE_ESCALATION.search(name.lower())]
