"""Drift's statistics on synthetic cohorts whose drift is known: a shifted mean, a
changed category mix, a plan that changed shape with the same totals; and two samples
of one distribution, which must not alarm at the default thresholds (over many seeds)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evals.drift import cohort, stats
from evals.drift.metrics import ngram_counts
from evals.drift.options import BUILT_IN, Thresholds
from evals.drift.report import build_report

DEFAULT = Thresholds()
SEEDS = range(20)


def categories(rng: np.random.Generator, n: int, shares: list[float]) -> dict[str, int]:
    drawn = rng.choice(len(shares), size=n, p=shares)
    return {f"tool_{i}": int((drawn == i).sum()) for i in range(len(shares)) if (drawn == i).any()}


def synthetic(
    rng: np.random.Generator, n: int, plans: list[tuple[str, ...]], cost: float
) -> cohort.Cohort:
    """``n`` traces, each following one of ``plans`` (tools in order, an LLM call
    between), with a lognormal cost around ``cost``."""
    traces, spans = [], []
    for index in range(n):
        trace_id = f"{rng.integers(2**62):032x}"
        plan = plans[int(rng.integers(len(plans)))]
        steps = [step for tool in plan for step in ("llm", tool)] + ["llm"]
        for order, step in enumerate(steps):
            is_tool = step != "llm"
            spans.append(
                {
                    "trace_id": trace_id,
                    "kind": "tool" if is_tool else "llm",
                    "tool_name": step if is_tool else None,
                    "name": step,
                    "model": None if is_tool else "m",
                    "status": "ok",
                    "error_type": None,
                    "start": order,
                }
            )
        traces.append(
            {
                "trace_id": trace_id,
                "start_time_ns": index,
                "duration_ns": 1e9 * rng.lognormal(0, 0.5),
                "status": "ok",
                "outcome": None,
                "escalated": False,
                "llm_call_count": len(plan) + 1,
                "tool_call_count": len(plan),
                "input_tokens": 1000,
                "output_tokens": 100,
                "reasoning_tokens": 0,
                "cost_usd": cost * rng.lognormal(0, 0.4),
                "unpriced_count": 0,
                "output_length": 200,
            }
        )
    span_frame = pd.DataFrame(spans).sort_values(["trace_id", "start"], kind="stable")
    return cohort.part(pd.DataFrame(traces), span_frame)


def test_a_shifted_mean_drifts_and_the_same_distribution_does_not() -> None:
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        before = rng.normal(100, 20, 400)
        assert stats.numeric(before, rng.normal(112, 20, 400), DEFAULT)["drifted"] is True
        same = stats.numeric(before, rng.normal(100, 20, 400), DEFAULT)
        assert same["drifted"] is False, same
        counts = rng.poisson(5, 400).astype(float), rng.poisson(5, 400).astype(float)
        assert stats.numeric(*counts, DEFAULT)["drifted"] is False


def test_a_large_cohort_does_not_alarm_on_a_trivial_shift() -> None:
    rng = np.random.default_rng(3)
    result = stats.numeric(rng.normal(100, 20, 20_000), rng.normal(101, 20, 20_000), DEFAULT)
    assert result["p_value"] < DEFAULT.p_value  # significant...
    assert result["drifted"] is False  # ...but 0.05 standard deviations is no drift
    assert "small" in result["reason"]


def test_a_changed_category_mix_drifts_and_a_resample_does_not() -> None:
    shares = [0.4, 0.3, 0.15, 0.1, 0.05]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        before = categories(rng, 500, shares)
        moved = categories(rng, 500, [0.2, 0.3, 0.15, 0.1, 0.25])
        assert stats.categorical(before, moved, DEFAULT)["drifted"] is True
        assert stats.categorical(before, categories(rng, 500, shares), DEFAULT)["drifted"] is False


def test_calls_within_traces_are_not_counted_as_independent_evidence() -> None:
    before, after = {"a": 120, "b": 80}, {"a": 80, "b": 120}
    many = stats.categorical(before, after, DEFAULT)
    per_trace = stats.categorical(before, after, DEFAULT, units=(20, 20))
    assert many["divergence"] == per_trace["divergence"]
    assert per_trace["p_value"] > many["p_value"]


def test_too_few_values_give_no_verdict() -> None:
    result = stats.numeric(np.arange(10.0), np.arange(100.0), DEFAULT)
    assert result["drifted"] is None and result["reason"].startswith("not enough data")
    assert stats.categorical({"a": 5}, {"a": 50}, DEFAULT)["drifted"] is None


def test_psi_is_zero_for_one_sample_and_large_for_a_shift() -> None:
    values = np.random.default_rng(0).normal(size=5000)
    assert stats.psi(values, values) == pytest.approx(0, abs=1e-12)
    assert stats.psi(values, values + 1) > 0.5
    steps = np.repeat([3.0, 4.0], 500)  # a count metric: quantile edges collapse
    assert stats.psi(steps, steps) == pytest.approx(0, abs=1e-12)


def test_ngrams_mark_the_start_and_end_of_each_plan() -> None:
    counted = ngram_counts([("llm", "search", "llm"), ()], 2)
    assert counted == {"^ → llm": 1, "llm → search": 1, "search → llm": 1, "llm → $": 1, "^ → $": 1}


def test_a_plan_that_changed_shape_drifts_though_totals_are_alike() -> None:
    for seed in range(5):
        rng = np.random.default_rng(seed)
        before = synthetic(rng, 300, [("search", "lookup", "answer")], cost=0.01)
        after = synthetic(rng, 300, [("lookup", "search", "answer")], cost=0.01)
        direct = synthetic(rng, 300, [("search", "answer")], cost=0.01)
        same = synthetic(rng, 300, [("search", "lookup", "answer")], cost=0.01)
        names = ["tool_mix", "steps", "tool_calls", "cost_usd", "step_bigrams", "step_trigrams"]
        report = build_report(before, after, metrics=names, limit=20_000)
        verdicts = {row["name"]: row["verdict"] for row in report["metrics"]}
        # An LLM call between tools makes every bigram llm -> tool or tool -> llm: the
        # same set in either order. Trigrams (llm -> search -> llm) see the order.
        assert verdicts == {
            "tool_mix": "stable", "steps": "stable", "tool_calls": "stable", "cost_usd": "stable",
            "step_bigrams": "stable", "step_trigrams": "drifted",
        }  # fmt: skip
        shorter = build_report(before, direct, metrics=["step_bigrams"], limit=20_000)
        assert shorter["drifted_metrics"] == ["step_bigrams"]  # a step left out: bigrams see it
        calm = build_report(before, same, metrics=names, limit=20_000)
        assert calm["drifted"] == 0


def test_two_cohorts_of_one_distribution_raise_no_alarm_on_any_metric() -> None:
    plans = [("search", "answer"), ("lookup", "answer"), ("search", "lookup", "answer")]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        report = build_report(
            synthetic(rng, 250, plans, cost=0.02),
            synthetic(rng, 250, plans, cost=0.02),
            limit=20_000,
        )
        assert report["drifted"] == 0, report["drifted_metrics"]
        assert [row["name"] for row in report["metrics"]] == list(BUILT_IN)


def test_the_report_is_json_without_nan() -> None:
    rng = np.random.default_rng(1)
    empty = cohort.combined([], limit=100)
    report = build_report(empty, synthetic(rng, 50, [("a",)], cost=0.0), limit=100)
    text = json.dumps(report, allow_nan=False)  # PostgreSQL's JSON refuses NaN
    assert report["drifted"] is None and "not enough data" in text
