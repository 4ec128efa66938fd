"""Confident but wrong: high reported confidence in an answer that was wrong."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pytest

from evals.evaluator_options import ConfidentButWrongOptions
from evals.evaluators import evaluator_class
from evals.evaluators.base import scores_frame
from evals.evaluators.confidence import ConfidentButWrong
from evals.frames import Chunk
from tests.eval_chunks import make_chunk, span, tool

Correctness = Literal["expected_output", "llm_judge", "status"]


def evaluator(
    correctness: Correctness = "status", min_confidence: float = 0.8
) -> ConfidentButWrong:
    options = ConfidentButWrongOptions(correctness=correctness, min_confidence=min_confidence)
    return ConfidentButWrong(options)


def with_verdicts(chunk: Chunk, name: str, passed: list[object]) -> Chunk:
    """The chunk as the runner hands it on: the earlier evaluator's rows under its name,
    its verdicts beside another metric's rows that must not be read as verdicts."""
    ids = chunk.traces["trace_id"]
    verdicts = scores_frame({"trace_id": ids, "metric": evaluator_class(name).metric})
    verdicts["passed"] = pd.Series(passed, dtype=object)
    extra = scores_frame({"trace_id": ids, "metric": "tokens", "passed": False})
    chunk.earlier[name] = pd.concat([verdicts, extra], ignore_index=True)
    return chunk


def test_a_confident_run_that_ended_in_an_error_is_confident_but_wrong() -> None:
    chunk = make_chunk([span("agent", status="error", confidence=0.93), span("llm")])
    (row,) = evaluator().score(chunk).itertuples()
    assert (row.metric, row.value, row.passed, row.label) == (
        "confident_but_wrong",
        0.93,
        False,
        "confident_but_wrong",
    )
    assert row.span_id == chunk.spans["span_id"].iloc[0]
    assert row.explanation == "confidence 0.93 (at least 0.80) in a run that ended in an error"


def test_low_confidence_when_wrong_and_any_confidence_when_right_pass() -> None:
    scores = evaluator().score(
        make_chunk(
            [span("agent", status="error", confidence=0.5)],
            [span("agent", confidence=0.99)],
            [span("agent", status="error", confidence=0.8)],  # at the limit: confident
        )
    )
    assert scores["passed"].tolist() == [True, True, False]
    assert scores["label"].tolist() == ["wrong_not_confident", "right", "confident_but_wrong"]


def test_no_reported_confidence_gets_no_verdict() -> None:
    scores = evaluator().score(make_chunk([span("agent", status="error"), span("llm")]))
    assert scores["passed"].tolist() == [None]
    assert scores["value"].isna().all() and scores["label"].isna().all()


def test_the_final_confidence_counts_not_the_highest() -> None:
    # A confident intermediate decision, then a hesitant answer: the agent hedged.
    root = span("agent", status="error", confidence=0.55, duration_ns=50_000_000)
    decision = span("llm", confidence=0.97, duration_ns=2_000_000)
    scores = evaluator().score(make_chunk([root, decision]))
    assert scores["value"].tolist() == [0.55] and scores["passed"].tolist() == [True]
    # A sub-agent's span that ends after the root's reported one carries the final word.
    late = span("agent", confidence=0.9, duration_ns=100_000_000)
    scores = evaluator().score(make_chunk([root, late]))
    assert scores["value"].tolist() == [0.9] and scores["passed"].tolist() == [False]


@pytest.mark.parametrize("name", ["expected_output", "llm_judge"])
def test_an_earlier_verdict_says_which_answers_were_wrong(name: Correctness) -> None:
    chunk = make_chunk(
        [span("agent", confidence=0.9)],  # failed the check: confident but wrong
        [span("agent", confidence=0.9)],  # passed it
        [span("agent", confidence=0.9)],  # no verdict (no dataset item): unknown
        [span("agent", confidence=0.3)],  # failed it, unsure
        [span("agent"), tool("lookup")],  # failed it, no confidence reported
    )
    chunk = with_verdicts(chunk, name, [False, True, None, np.False_, False])
    scores = evaluator(name).score(chunk)
    assert scores["passed"].tolist() == [False, True, None, True, None]
    assert scores["explanation"].iloc[0] == (
        f"confidence 0.90 (at least 0.80) in an answer {name} failed"
    )


def test_min_confidence_is_the_bar() -> None:
    chunk = make_chunk([span("agent", status="error", confidence=0.6)])
    assert evaluator(min_confidence=0.5).score(chunk)["passed"].tolist() == [False]
    assert evaluator(min_confidence=0.7).score(chunk)["passed"].tolist() == [True]


def test_a_missing_earlier_verdict_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="list expected_output before it"):
        evaluator("expected_output").score(make_chunk([span("agent", confidence=0.9)]))
