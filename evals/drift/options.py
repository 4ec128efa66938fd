"""What a drift check is told: the baseline, the metrics, and when a change counts.

A drifted verdict needs both a significant test and a large enough effect: on two
cohorts of 20,000 traces a KS test finds a 1% shift "significant", and a dashboard
that alarms on that is soon ignored. The defaults are the usual rules of thumb: PSI
0.2 is a "significant shift" in credit scoring, Cohen's d 0.5 a "medium" effect; a
Jensen-Shannon distance (base 2, 0..1) of 0.1 is about a 10-point move of shares.
``p_value`` holds for the whole report: each of its m tests is held to p_value / m
(Bonferroni), so that fifteen metrics do not give fifteen chances of a false alarm.
Below ``min_n`` values per cohort a metric says "not enough data" instead of a verdict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Built-in metric names; eval scores are named ``score:<evaluator>.<metric>``.
NUMERIC = (
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "latency_ms",
    "steps",
    "tool_calls",
    "output_length",
)
CATEGORICAL = ("tool_mix", "model_mix", "error_types", "escalation", "final_status")
BEHAVIOUR = ("step_bigrams", "step_trigrams")
BUILT_IN = (*NUMERIC, *CATEGORICAL, *BEHAVIOUR)
SCORE_PREFIX = "score:"
DEFAULT_LIMIT = 20_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    since: str | None = Field(None, description="ISO time, nanoseconds, or an age: 7d.")
    until: str | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Window:
        if self.since is None and self.until is None:
            raise ValueError("a window needs since or until")
        return self


class BaselineSpec(_Strict):
    """One of: an agent version, a time window, or the version marked known-good. The
    baseline keeps the current selection's other filters (project, agent, model...)
    except the one it replaces."""

    version: str | None = None
    window: Window | None = None
    known_good: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> BaselineSpec:
        kinds = (self.version is not None) + (self.window is not None) + self.known_good
        if kinds != 1:
            raise ValueError("baseline needs exactly one of version, window, known_good: true")
        return self


class Thresholds(_Strict):
    p_value: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="KS (numeric) and chi-square (categories) p below this, over the whole "
        "report (each of m tests is held to p_value / m).",
    )
    psi: float = Field(0.2, gt=0, description="Numeric: a PSI from here is a meaningful shift.")
    effect_size: float = Field(
        0.5, gt=0, description="Numeric: |Cohen's d| from here is a meaningful shift."
    )
    divergence: float = Field(
        0.1, gt=0, le=1, description="Categories and n-grams: Jensen-Shannon distance (base 2)."
    )
    min_n: int = Field(30, ge=2, description="Values per cohort below which there is no verdict.")


class DriftOptions(_Strict):
    baseline: BaselineSpec = Field(default_factory=lambda: BaselineSpec(known_good=True))
    metrics: list[str] | Literal["all"] = Field(
        "all",
        description="Metric names (see evals/drift/options.py), score:<evaluator>.<metric> "
        "for an eval score; all: every built-in one and every earlier evaluator's score.",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    limit: int = Field(
        DEFAULT_LIMIT, ge=100, le=200_000, description="Newest traces read per cohort."
    )

    @model_validator(mode="after")
    def _known_metrics(self) -> DriftOptions:
        if self.metrics == "all":
            return self
        for name in self.metrics:
            if name not in BUILT_IN and not _score_name(name):
                known = ", ".join(BUILT_IN)
                raise ValueError(f"metrics: unknown metric {name!r} (known: {known}, score:e.m)")
        return self


def _score_name(name: str) -> bool:
    evaluator, dot, metric = name.removeprefix(SCORE_PREFIX).partition(".")
    return name.startswith(SCORE_PREFIX) and bool(evaluator and dot and metric)
