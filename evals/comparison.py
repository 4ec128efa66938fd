"""What a comparison of two eval runs is made of (``evals/compare.py`` computes it): the
errors that refuse one, and the figures, changed keys, tool attribution and escalation
steps the API and the page show."""

from __future__ import annotations

from dataclasses import dataclass

from store.run_compare import RunHead


class CompareError(Exception):
    """Why two runs cannot be compared."""


class UnknownRun(CompareError):
    pass


class NoBaseline(CompareError):
    pass


class BadComparison(CompareError):
    pass


@dataclass(frozen=True, slots=True)
class Clip:
    """The first characters of an output, and the length of the whole."""

    text: str
    length: int

    @property
    def truncated(self) -> bool:
        return self.length > len(self.text)


@dataclass(frozen=True, slots=True)
class Figures:
    """One run's rows of an evaluator's verdict metric: passed, failed, the rest not
    applicable; the mean of their values."""

    rows: int
    passed: int
    failed: int
    values: int
    mean: float | None

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def not_applicable(self) -> int:
        return self.rows - self.judged

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None


@dataclass(frozen=True, slots=True)
class MetricLine:
    """An evaluator's verdict metric in both runs, and its keys paired."""

    evaluator: str
    metric: str
    a: Figures | None  # None: the run has no row of it
    b: Figures | None
    paired: int  # keys judged in both runs
    regressed: int
    improved: int
    kept_passing: int
    kept_failing: int
    only_a: int  # keys scored in one run only (traces outside the other's selection)
    only_b: int
    by_item: bool  # keys are dataset items, not traces

    @property
    def pass_rate_delta(self) -> float | None:
        return _delta(self.a.pass_rate if self.a else None, self.b.pass_rate if self.b else None)

    @property
    def mean_delta(self) -> float | None:
        return _delta(self.a.mean if self.a else None, self.b.mean if self.b else None)


@dataclass(frozen=True, slots=True)
class Side:
    """A key's verdict in one run: the row of its trace there."""

    run_id: int
    trace_id: str | None
    passed: bool | None
    value: float | None
    label: str | None
    explanation: str | None
    output: Clip | None  # what the agent answered (dataset items)


@dataclass(frozen=True, slots=True)
class ChangedKey:
    evaluator: str
    metric: str
    key: str  # the trace id, or the dataset item's key
    item_key: str | None
    expected: Clip | None
    a: Side
    b: Side


@dataclass(frozen=True, slots=True)
class Changes:
    regressed: bool  # else improved
    total: int  # every such key; ``rows`` holds the first ``limit``
    rows: list[ChangedKey]


@dataclass(frozen=True, slots=True)
class ToolLine:
    """Run B's judged traces split by whether they called ``tool``."""

    tool: str | None
    called: int
    called_failed: int
    not_called: int
    not_called_failed: int

    @property
    def rate_called(self) -> float | None:
        return self.called_failed / self.called if self.called else None

    @property
    def rate_not_called(self) -> float | None:
        return self.not_called_failed / self.not_called if self.not_called else None

    @property
    def difference(self) -> float | None:
        return _delta(self.rate_not_called, self.rate_called)


@dataclass(frozen=True, slots=True)
class ToolAttribution:
    evaluator: str | None  # whose verdict is failure; None: any verdict of the run
    judged: int  # traces of run B with a verdict
    failed: int
    tools: list[ToolLine]  # the largest difference in failure rate first, ``limit`` of them
    tool_count: int  # tools the judged traces called

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.judged if self.judged else None


@dataclass(frozen=True, slots=True)
class StepLine:
    step: int | None  # 1-based; None where the evaluator gave none
    a: int
    b: int


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalation evaluator's hand-offs in both runs: how many, at which step, by
    which tool."""

    evaluator: str
    a_judged: int
    a_escalated: int
    b_judged: int
    b_escalated: int
    steps: list[StepLine]
    tools: list[tuple[str | None, int, int]]  # tool, escalations in A, in B

    @property
    def a_share(self) -> float | None:
        return self.a_escalated / self.a_judged if self.a_judged else None

    @property
    def b_share(self) -> float | None:
        return self.b_escalated / self.b_judged if self.b_judged else None


@dataclass(frozen=True, slots=True)
class RunComparison:
    a: RunHead
    b: RunHead
    against: str  # how A was chosen: given, baseline (the suite's) or previous
    warnings: list[str]
    verdicts: dict[str, str]  # evaluator -> its verdict metric
    evaluator: str | None  # the evaluator the lists and tools are narrowed to
    limit: int
    metrics: list[MetricLine]
    regressed: Changes
    improved: Changes
    tools: ToolAttribution
    escalations: list[Escalation]


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before
