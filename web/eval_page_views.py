"""What the eval pages show (``web/pages/evals.py``): the lines and views their templates read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evals.background import Progress
from store.eval_reads import RunRecord, ScoreRow, SuiteRecord
from store.models import EvalJob, EvalRun
from web.drift_series import DriftSeries
from web.drift_view import DriftView
from web.eval_urls import scores_csv_url, summary_csv_url
from web.templating import query_string


@dataclass(frozen=True, slots=True)
class RunLine:
    """A run in a list: its figures read off the summary once."""

    run: EvalRun
    duration_s: float | None
    pass_rates: dict[str, float | None]
    held: int  # threshold checks that held
    checks: int  # threshold checks set
    suite_name: str = ""


@dataclass(frozen=True, slots=True)
class SuiteLine:
    record: SuiteRecord
    last: RunLine | None


@dataclass(frozen=True, slots=True)
class EvalsView:
    """What ``evals.html`` shows."""

    suites: list[SuiteLine]
    runs: list[RunLine]  # the project's latest runs, of every suite
    definition: str  # the form's text: the example, or what was sent with an error
    error: str | None = None  # why the sent suite was refused


@dataclass(frozen=True, slots=True)
class SuiteView:
    """What ``evals_suite.html`` shows: the definition and a page of runs."""

    record: SuiteRecord
    runs: list[RunLine]
    evaluators: list[str]  # the pass-rate columns, the newest run's order first
    next_link: str | None
    first_link: str | None
    jobs: list[EvalJob] = field(default_factory=list)  # its newest jobs (schedule, run now)
    drift: DriftSeries | None = None  # its runs' drift reports, if it has a drift evaluator
    cursor: str | None = None  # the page of runs shown (None: the newest)
    jobs_shown: int = 20  # at most this many jobs

    @property
    def drift_csv_link(self) -> str:
        """The drift table's runs (this page of them) as CSV."""
        suite_id = self.record.suite.id
        return f"/api/suites/{suite_id}/drift.csv" + query_string({"cursor": self.cursor})

    @property
    def jobs_csv_link(self) -> str:
        suite_id = self.record.suite.id
        return f"/api/suites/{suite_id}/jobs.csv" + query_string({"limit": self.jobs_shown})


@dataclass(frozen=True, slots=True)
class EvaluatorLine:
    name: str
    metric: str | None
    figures: dict[str, Any] | None  # None while running
    checks: list[dict[str, Any]]  # this evaluator's thresholds


@dataclass(frozen=True, slots=True)
class RunView:
    """What ``evals_run.html`` shows."""

    record: RunRecord
    duration_s: float | None
    progress: Progress | None  # while running, when this process executes the run
    evaluators: list[EvaluatorLine]
    thresholds: list[dict[str, Any]]
    selection: dict[str, Any] | None
    charted: bool  # some evaluator has values: the charts load from their own route
    scores: list[ScoreRow]
    evaluator: str | None  # the results' filter
    failed_only: bool
    next_link: str | None
    first_link: str | None
    previous_link: str | None  # compare with the suite's previous run
    baseline_link: str | None  # compare with the suite's baseline run
    held: int = 0
    checks: int = 0
    form: dict[str, str] = field(default_factory=dict)
    drift: DriftView | None = None  # the drift evaluator's report, if the suite has one

    @property
    def run(self) -> EvalRun:
        return self.record.run

    @property
    def scores_csv_link(self) -> str:
        """Every score of the run, as CSV: the run's report."""
        return scores_csv_url(self.run.id)

    @property
    def results_csv_link(self) -> str:
        """Every score the results table selects (all its pages), as CSV."""
        return scores_csv_url(self.run.id, self.evaluator, self.failed_only)

    @property
    def summary_csv_link(self) -> str:
        return summary_csv_url(self.run.id)

    def trace_link(self, row: ScoreRow) -> str:
        params = {"project": self.record.project, "span": row.score.span_id}
        return f"/traces/{row.score.trace_id}{query_string(params)}"
