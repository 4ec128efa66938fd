"""The metrics drift measures, and how each is read off a cohort.

Numeric metrics are a value per trace (unknown values, such as an unpriced trace's
cost, are left out). Categorical metrics are counts per category: calls per tool or
model, failed spans per error type, traces per escalation or final status. Behaviour
metrics count the n-grams of each trace's step sequence, with ``^`` and ``$`` marking
its start and end, so a plan that changed shape (search before lookup instead of
after) shows even when every total stayed the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

import numpy as np

from evals.drift.cohort import Cohort
from evals.drift.options import BEHAVIOUR, BUILT_IN, CATEGORICAL, NUMERIC, SCORE_PREFIX

START, END = "^", "$"
NGRAM_SIZE = {"step_bigrams": 2, "step_trigrams": 3}
ARROW = " \u2192 "


@dataclass(frozen=True, slots=True)
class MetricInfo:
    name: str
    kind: str  # numeric | categorical | behaviour
    label: str
    unit: str  # how the pages show values: usd, count, ms, chars, score, share


INFO = {
    info.name: info
    for info in (
        MetricInfo("cost_usd", "numeric", "Cost per trace", "usd"),
        MetricInfo("input_tokens", "numeric", "Input tokens per trace", "count"),
        MetricInfo("output_tokens", "numeric", "Output tokens per trace", "count"),
        MetricInfo("reasoning_tokens", "numeric", "Reasoning tokens per trace", "count"),
        MetricInfo("latency_ms", "numeric", "Latency", "ms"),
        MetricInfo("steps", "numeric", "Steps per trace (LLM + tool calls)", "count"),
        MetricInfo("tool_calls", "numeric", "Tool calls per trace", "count"),
        MetricInfo("output_length", "numeric", "Output length (characters)", "count"),
        MetricInfo("tool_mix", "categorical", "Tool mix (share of tool calls)", "share"),
        MetricInfo("model_mix", "categorical", "Model mix (share of model calls)", "share"),
        MetricInfo("error_types", "categorical", "Error types (share of failed spans)", "share"),
        MetricInfo("escalation", "categorical", "Escalation (share of traces)", "share"),
        MetricInfo("final_status", "categorical", "Final status (share of traces)", "share"),
        MetricInfo("step_bigrams", "behaviour", "Step sequence bigrams", "share"),
        MetricInfo("step_trigrams", "behaviour", "Step sequence trigrams", "share"),
    )
}
assert set(INFO) == set(BUILT_IN) and all(INFO[n].kind == "numeric" for n in NUMERIC)
assert all(INFO[n].kind == "categorical" for n in CATEGORICAL)
assert all(INFO[n].kind == "behaviour" for n in BEHAVIOUR)


def info(name: str) -> MetricInfo:
    """A built-in metric's description, or an eval score's (``score:e.m``)."""
    if name.startswith(SCORE_PREFIX):
        return MetricInfo(name, "numeric", f"Eval score {name.removeprefix(SCORE_PREFIX)}", "score")
    return INFO[name]


def chosen(metrics: list[str] | str, *cohorts: Cohort) -> list[str]:
    """The metrics to report: those named, or every built-in one and every eval score
    some cohort has (``all``)."""
    if metrics != "all":
        return list(metrics)
    scores = sorted(set(chain.from_iterable(c.scores["name"].unique() for c in cohorts)))
    return [*BUILT_IN, *scores]


def values(cohort: Cohort, name: str) -> np.ndarray:
    """A numeric metric's value per trace (NaN: unknown)."""
    if name.startswith(SCORE_PREFIX):
        scores = cohort.scores
        return scores.loc[scores["name"] == name, "value"].to_numpy(np.float64)
    return cohort.traces[name].to_numpy(np.float64)


def counts(cohort: Cohort, name: str) -> dict[str, int]:
    """A categorical or behaviour metric's counts per category (or n-gram)."""
    if name in NGRAM_SIZE:
        return ngram_counts(cohort.traces["sequence"], NGRAM_SIZE[name])
    if name in ("escalation", "final_status"):
        found = cohort.traces[name].astype(str).value_counts()
    else:
        calls = cohort.calls
        found = calls.loc[calls["metric"] == name, "category"].value_counts()
    return {str(key): int(count) for key, count in found.items()}


def ngram_counts(sequences: Iterable[tuple[str, ...]], size: int) -> dict[str, int]:
    """How often each run of ``size`` consecutive steps occurs, over all sequences."""
    counter: Counter[tuple[str, ...]] = Counter()
    for sequence in sequences:
        steps = (START, *sequence, END)
        counter.update(zip(*(steps[i:] for i in range(size)), strict=False))
    return {ARROW.join(gram): count for gram, count in counter.items()}
