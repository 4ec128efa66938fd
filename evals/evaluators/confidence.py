"""Confident but wrong: an agent that reported high confidence in an answer that was wrong.

The confidence is the trace's **final** one: that of the span which ended last among
those reporting a confidence (the normalizer's ``confidence`` column). An answer's
confidence sits on the span that gives the answer, which ends after the steps that led
to it; a confident intermediate decision followed by a hesitant answer is not
overconfidence, so the highest would be the wrong pick.

Wrong is what ``correctness`` says: the verdict of an evaluator listed earlier in the
suite (``expected_output`` or ``llm_judge``: its verdict ``passed`` is False), or for
``status`` the trace ending in an error. No verdict (None) where no confidence was
reported or correctness is unknown.

Verdict ``confident_but_wrong`` per trace: value the final confidence; fails when it is
at least ``min_confidence`` on a wrong answer; span the one that reported it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.evaluator_options import ConfidentButWrongOptions
from evals.evaluators import evaluator_class
from evals.evaluators.base import Evaluator, scores_frame
from evals.frames import Chunk
from store.vocabulary import Status


class ConfidentButWrong(Evaluator):
    name = "confident_but_wrong"
    metric = "confident_but_wrong"
    span_columns = frozenset({"confidence"})
    options: ConfidentButWrongOptions

    def score(self, chunk: Chunk) -> pd.DataFrame:
        traces = chunk.traces
        ids = traces["trace_id"]
        final = _final_confidence(chunk.spans)
        confidence = pd.to_numeric(ids.map(final["confidence"]), errors="coerce")
        wrong = self._wrong(chunk)
        applicable = (confidence.notna() & wrong.notna()).to_numpy()
        is_wrong = (wrong == True).to_numpy()  # noqa: E712 (object column with None)
        sure = (confidence >= self.options.min_confidence).to_numpy()
        failed = applicable & is_wrong & sure
        label = np.select(
            [~applicable, failed, is_wrong],
            [None, "confident_but_wrong", "wrong_not_confident"],
            "right",
        )
        passed = pd.Series(~failed, dtype=object).where(applicable, None)
        source = self.options.correctness
        wrong_by = (
            "a run that ended in an error" if source == "status" else f"an answer {source} failed"
        )
        explanation = [
            f"confidence {value:.2f} (at least {self.options.min_confidence:.2f}) in {wrong_by}"
            if bad
            else None
            for bad, value in zip(failed, confidence.fillna(0.0), strict=True)
        ]
        return scores_frame(
            {
                "trace_id": ids.to_numpy(),
                "span_id": ids.map(final["span_id"]).to_numpy(),
                "metric": self.metric,
                "value": confidence.to_numpy(dtype=float),
                "passed": passed.to_numpy(),
                "label": label,
                "explanation": explanation,
            }
        )

    def _wrong(self, chunk: Chunk) -> pd.Series:
        """Per trace (in the chunk's order): True wrong, False right, None unknown."""
        ids = chunk.traces["trace_id"]
        source = self.options.correctness
        if source == "status":
            return pd.Series(
                (chunk.traces["status"] == Status.ERROR.value).to_numpy(), dtype=object
            )
        earlier = chunk.earlier.get(source)
        if earlier is None:
            raise ValueError(
                f"{self.name} reads {source}'s verdicts: list {source} before it in the suite"
            )
        metric = evaluator_class(source).metric
        verdicts = earlier[earlier["metric"] == metric].drop_duplicates("trace_id")
        passed = ids.map(verdicts.set_index("trace_id")["passed"])
        known = passed.notna().to_numpy()
        wrong = (passed == False).to_numpy()  # noqa: E712 (object column with None)
        return pd.Series(np.where(known, wrong, None), dtype=object)


def _final_confidence(spans: pd.DataFrame) -> pd.DataFrame:
    """Per trace, the confidence and span_id of the span that ended last among those
    that reported one."""
    reported = spans[pd.to_numeric(spans["confidence"], errors="coerce").notna().to_numpy()]
    if reported.empty:
        return pd.DataFrame(columns=["confidence", "span_id"], index=pd.Index([], name="trace_id"))
    ends = reported["start_time_ns"].to_numpy(dtype=np.int64) + reported["duration_ns"].to_numpy(
        dtype=np.int64
    )
    # Spans come sorted by trace then start; a stable sort on the end keeps that tie order.
    reported = reported.assign(end=ends).sort_values(["trace_id", "end"], kind="stable")
    last = reported.drop_duplicates("trace_id", keep="last").set_index("trace_id")
    return last[["confidence", "span_id"]]
