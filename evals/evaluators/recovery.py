"""Tool recovery: when a tool call failed, did the agent get past it?

A failed call is recovered when a later call of the same tool succeeded (the agent
retried, perhaps with other arguments) or when the run still completed successfully
(the trace's status is not ``error``: the agent worked around it). A trace is
recovered when every one of its failed calls was; traces where no tool failed get no
verdict (None), so the pass rate is the share of tool failures the agent survived.

Verdict ``recovered`` per trace: value the number of failed tool calls, label
``recovered`` or ``unrecovered``, span the first failed call not recovered (else the
first failed call).
"""

from __future__ import annotations

import pandas as pd

from evals.evaluator_options import ToolRecoveryOptions
from evals.evaluators.base import Evaluator, scores_frame
from evals.evaluators.steps import tool_calls
from evals.frames import Chunk
from store.vocabulary import Status


class ToolRecovery(Evaluator):
    name = "tool_recovery"
    metric = "recovered"
    span_columns = frozenset({"error_type"})
    options: ToolRecoveryOptions

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        calls = tool_calls(chunk.spans, ("error_type",))
        is_error = (calls["status"] == Status.ERROR.value).to_numpy()
        failed, succeeded = calls[is_error], calls[~is_error]
        last_success = succeeded.groupby(["trace_id", "called"], sort=False)["position"].max()
        retried = (
            pd.MultiIndex.from_frame(failed[["trace_id", "called"]])
            .map(last_success)
            .to_numpy(dtype=float, na_value=-1.0)
            > failed["position"].to_numpy()
        )
        run_ok = traces.set_index("trace_id")["status"] != Status.ERROR.value
        completed = failed["trace_id"].map(run_ok).fillna(False).to_numpy(dtype=bool)
        failed = failed.assign(recovered=retried | completed)
        per_trace = failed.groupby("trace_id", sort=False).agg(
            errors=("span_id", "size"), recovered=("recovered", "all")
        )
        # The call to look at: the first unrecovered one, else the first failure.
        pointed = failed.sort_values(["recovered", "position"]).drop_duplicates("trace_id")
        pointed = pointed.set_index("trace_id")
        per_trace = per_trace.join(pointed[["span_id", "called", "error_type"]])
        per_trace["explanation"] = [
            _explain(errors, recovered, called, error_type)
            for errors, recovered, called, error_type in zip(
                per_trace["errors"],
                per_trace["recovered"],
                per_trace["called"],
                per_trace["error_type"],
                strict=True,
            )
        ]
        verdicts = per_trace.reindex(traces["trace_id"])
        recovered = verdicts["recovered"]
        return scores_frame(
            {
                "trace_id": traces["trace_id"].to_numpy(),
                "span_id": verdicts["span_id"].to_numpy(),
                "metric": self.metric,
                "value": verdicts["errors"].to_numpy(dtype=float),
                "passed": recovered.astype(object).where(recovered.notna(), None).to_numpy(),
                "label": recovered.map({True: "recovered", False: "unrecovered"}).to_numpy(),
                "explanation": verdicts["explanation"].to_numpy(),
            }
        )


def _explain(errors: int, recovered: bool, called: str, error_type: object) -> str:
    failures = "1 tool call failed" if errors == 1 else f"{errors} tool calls failed"
    if recovered:
        return f"{failures}; each was retried successfully or the run completed"
    raised = f" ({error_type})" if isinstance(error_type, str) and error_type else ""
    return (
        f"{failures}; {called}{raised} was not retried successfully and the run ended in an error"
    )
