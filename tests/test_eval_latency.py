"""Latency: trace and span durations against limits, and the run's percentiles in ms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evals.evaluator_options import LatencyOptions
from evals.evaluators.latency import Latency
from evals.suite import Threshold
from evals.summary import EvaluatorTally, threshold_checks
from tests.eval_chunks import make_chunk, span, tool

MS = 1_000_000


def latency(max_ms: float | None = None, **span_max_ms: float) -> Latency:
    return Latency(LatencyOptions(max_ms=max_ms, span_max_ms=span_max_ms))


def test_a_trace_over_its_limit_fails_with_its_duration_in_ms() -> None:
    chunk = make_chunk([span("agent", duration_ns=12_500 * MS)], [span("agent")])
    scores = latency(max_ms=10_000).score(chunk)
    assert scores["metric"].tolist() == ["duration_ms"] * 2
    assert scores["value"].tolist() == [12_500.0, 1.0]
    assert scores["passed"].tolist() == [False, True]
    assert scores["label"].tolist() == ["slow_trace", "within_limits"]
    assert scores["explanation"].iloc[0] == "took 12,500 ms, over the limit of 10,000 ms"
    assert scores["span_id"].isna().all()  # no span limit: no span to blame


def test_the_slowest_span_over_its_kind_limit_is_pointed_at() -> None:
    chunk = make_chunk(
        [
            span("agent", duration_ns=9_000 * MS),
            span("llm", name="chat gpt-4o", duration_ns=6_000 * MS),
            span("llm", name="chat gpt-4o", duration_ns=7_000 * MS),
            tool("web_search", duration_ns=8_000 * MS),  # tools are not limited here
        ]
    )
    (row,) = latency(llm=5_000).score(chunk).itertuples()
    assert (row.passed, row.label, row.value) == (
        False,
        "slow_span",
        9_003.0,
    )  # make_chunk: +1 ms a span
    assert row.span_id == chunk.spans["span_id"].iloc[2]
    assert row.explanation == (
        "llm span chat gpt-4o took 7,000 ms, over the llm limit of 5,000 ms "
        "(and 1 more span over its limit)"
    )


def test_both_limits_at_once_and_spans_within_them() -> None:
    slow = [span("agent", duration_ns=20_000 * MS), tool("refund", duration_ns=3_000 * MS)]
    fast = [span("agent", duration_ns=900 * MS), tool("refund", duration_ns=2_000 * MS)]
    scores = latency(max_ms=10_000, tool=2_000).score(make_chunk(slow, fast))
    assert scores["passed"].tolist() == [False, True]
    assert scores["label"].tolist() == ["slow_trace", "within_limits"]
    assert scores["explanation"].iloc[0] == (
        "took 20,001 ms, over the limit of 10,000 ms; "
        "tool span execute_tool refund took 3,000 ms, over the tool limit of 2,000 ms"
    )


def test_finish_gives_percentiles_over_every_chunk() -> None:
    evaluator = latency(max_ms=1_000_000)
    durations = [ms * MS for ms in range(1, 101)]
    for part in (durations[:40], durations[40:]):
        evaluator.score(make_chunk(*([span("agent", duration_ns=d), span("llm")] for d in part)))
    figures = evaluator.finish()
    assert figures["duration_ms"]["count"] == 100
    assert figures["duration_ms"]["p50"] == pytest.approx(np.percentile(range(2, 102), 50))
    assert figures["duration_ms"]["p95"] == pytest.approx(np.percentile(range(2, 102), 95))
    assert figures["span_kinds_ms"]["llm"] == {"count": 100, "p50": 1.0, "p95": 1.0}
    assert figures["span_kinds_ms"]["agent"]["p95"] == pytest.approx(
        np.percentile(range(1, 101), 95)
    )


def test_p50_and_p95_thresholds_read_milliseconds() -> None:
    evaluator, tally = latency(max_ms=60_000), EvaluatorTally(Latency.metric)
    traces = [[span("agent", duration_ns=ms * MS)] for ms in (100, 200, 300, 400, 5_000)]
    tally.add(evaluator.score(make_chunk(*traces)))
    figures = {"latency": tally.figures()}
    assert figures["latency"]["p50"] == 300.0
    checks = threshold_checks({"latency": Threshold(max_p50=300, max_p95=4_000)}, figures)
    assert [(check["check"], check["held"]) for check in checks] == [
        ("max_p50", True),
        ("max_p95", False),
    ]


def test_an_unknown_trace_duration_gets_no_verdict_unless_a_span_is_slow() -> None:
    chunk = make_chunk([span("agent"), span("llm", duration_ns=9_000 * MS)], [span("agent")])
    chunk.traces["duration_ns"] = pd.Series([None, None], dtype=object)
    scores = latency(max_ms=1_000, llm=5_000).score(chunk)
    assert scores["passed"].tolist() == [False, None]
    assert scores["value"].isna().all()
