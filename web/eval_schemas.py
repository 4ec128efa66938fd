"""The eval API's objects as OpenAPI sees them: suites, runs, scores and feedback.

A run's figures are the runner's summary (``evals/summary.py``) as stored; the models
name its fields and let new ones through (``extra='allow'``), so the API documents the
summary without dropping what a later runner adds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RunStatus = Literal["running", "passed", "failed", "error"]
MAX_NAME = 200
MAX_LABEL = 200
MAX_EXPLANATION = 10_000


class SuiteDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: str = Field(description="The suite's YAML, as a file would hold it.")


class RunBriefOut(BaseModel):
    id: int
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    selection_size: int | None = Field(description="Traces selected; null while running.")
    pass_rates: dict[str, float | None] = Field(
        description="Each evaluator's pass rate (null: no verdicts); empty while running."
    )
    thresholds_held: int = Field(description="Threshold checks that held.")
    thresholds_total: int


class SuiteOut(BaseModel):
    id: int
    project: str
    name: str
    schedule: str | None = Field(description="A cron expression, UTC, for the scheduler.")
    enabled: bool = Field(
        description="Whether the scheduler runs it (switched off: it keeps "
        "its schedule and runs only when asked)."
    )
    next_run_at: datetime | None = Field(
        description="The next slot the scheduler will queue; null before it has looked, or "
        "with no schedule, or switched off."
    )
    definition: str = Field(description="The suite's YAML as uploaded.")
    baseline_run_id: int | None = Field(
        description="The run later runs are compared with; null: the previous run."
    )
    created_at: datetime
    updated_at: datetime
    run_count: int
    last_run: RunBriefOut | None


class SuiteList(BaseModel):
    suites: list[SuiteOut]


class RunList(BaseModel):
    runs: list[RunBriefOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for older runs.")


class RunStartedOut(BaseModel):
    run_id: int
    suite_id: int
    status: RunStatus = Field(description="Always running: poll GET /api/eval-runs/{run_id}.")


class EvaluatorFiguresOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    metric: str = Field(description="The metric of the evaluator's verdict rows.")
    passed: int
    failed: int
    not_applicable: int = Field(description="Traces the check did not apply to.")
    pass_rate: float | None = Field(description="passed / (passed + failed); null: none.")
    mean: float | None
    p50: float | None
    p95: float | None
    values: int = Field(description="Verdict rows with a value.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Run-level figures.")


class ThresholdCheckOut(BaseModel):
    evaluator: str
    check: str = Field(description="pass_rate, min_mean, max_mean, max_p50 or max_p95.")
    limit: float
    actual: float | None
    held: bool


class SelectionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    traces: int
    successful: int = Field(
        description="Traces whose task succeeded: the agent said success "
        "(reasonlens.outcome), or said nothing and the status is ok."
    )
    errors: int | None = Field(None, description="Traces with status error (null: older runs).")
    escalated: int | None = Field(None, description="Traces handed to a person (null: older runs).")
    priced_traces: int
    unpriced_traces: int = Field(description="Traces with model calls and no known cost.")
    cost_usd: float | None = Field(description="Null while any trace is unpriced.")
    priced_cost_usd: float | None
    cost_per_success_usd: float | None
    passing_traces: int | None = Field(
        None, description="Traces that no evaluator of the run failed (null: older runs)."
    )
    cost_per_passing_usd: float | None = Field(
        None, description="All spend over the passing traces; null while any is unpriced."
    )
    input_tokens: int
    output_tokens: int


class ProgressOut(BaseModel):
    done: int = Field(description="Traces scored so far.")
    total: int | None = Field(description="Traces selected; null until known.")
    waiting: bool = Field(description="Queued behind another run.")


class RunOut(BaseModel):
    id: int
    suite_id: int
    suite: str = Field(description="The suite's name.")
    project: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None = Field(description="Scoring time; null while running.")
    selection_size: int | None
    evaluators: dict[str, EvaluatorFiguresOut] | None = Field(
        description="Per evaluator, in the suite's order; null until finished."
    )
    thresholds: list[ThresholdCheckOut]
    thresholds_held: bool | None = Field(description="Null until finished.")
    selection: SelectionOut | None
    error: str | None = Field(description="Why a run ended in error.")
    progress: ProgressOut | None = Field(
        description="While running, when this server process executes the run."
    )
    definition: str = Field(description="The YAML the run ran with.")


class ScoreOut(BaseModel):
    id: int
    run_id: int | None
    project: str
    trace_id: str
    span_id: str | None
    evaluator: str
    metric: str
    value: float | None
    label: str | None
    passed: bool | None = Field(description="Null: not applicable, or a measure only.")
    explanation: str | None
    details: dict[str, Any] | None
    source: str = Field(description="eval (a run), human (feedback) or agent.")
    created_at: datetime


class RunScoreOut(ScoreOut):
    trace_name: str | None = Field(description="Null when the trace is no longer stored.")
    trace_status: str | None


class ScoreList(BaseModel):
    scores: list[RunScoreOut] = Field(description="In the order the run wrote them.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class FeedbackIn(BaseModel):
    """A person's verdict on a trace or one of its spans."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    trace_id: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    span_id: str | None = Field(None, pattern=r"^[0-9a-fA-F]{16}$")
    project: str | None = Field(
        None, min_length=1, max_length=MAX_NAME, description="Needed when the id is in several."
    )
    name: str = Field(
        min_length=1, max_length=MAX_NAME, description='Stored as the evaluator: "helpful".'
    )
    metric: str | None = Field(
        None, min_length=1, max_length=MAX_NAME, description="Defaults to the name."
    )
    value: float | None = Field(None, allow_inf_nan=False)
    label: str | None = Field(None, min_length=1, max_length=MAX_LABEL)
    passed: bool | None = None
    explanation: str | None = Field(None, max_length=MAX_EXPLANATION)

    @field_validator("project", "name", "metric", "label", "explanation")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @model_validator(mode="after")
    def _says_something(self) -> FeedbackIn:
        if self.value is None and self.label is None and self.passed is None:
            raise ValueError("feedback needs a value, a label or passed")
        return self


class SuiteSwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Switch the suite's schedule on or off.")


class JobOut(BaseModel):
    id: int
    suite_id: int
    reason: str = Field(description="schedule (a cron slot) or manual (run now).")
    due_at: datetime = Field(description="The slot it runs for, or when it was asked for.")
    status: str = Field(description="queued, running, done or failed.")
    attempts: int
    worker: str | None
    run_id: int | None = Field(description="The run of the latest attempt.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class JobList(BaseModel):
    jobs: list[JobOut] = Field(description="Newest first.")


class JobQueuedOut(BaseModel):
    job_id: int
    suite_id: int


class ScheduleOut(BaseModel):
    suite: SuiteOut
    online: bool = Field(description="Scores only the traces that arrived since its last run.")
    backlog_traces: int | None = Field(
        description="Online suites: traces arrived (and sampled) that no run has covered yet."
    )
    backlog_oldest_age_s: float | None = Field(description="How long the oldest has waited.")
    queued_jobs: int
    running_jobs: int
    failed_jobs_24h: int = Field(description="Jobs that failed in the last day.")
    problem: str | None = Field(description="Why the stored definition no longer reads.")


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]
