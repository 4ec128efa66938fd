"""``GET /api/eval-runs/{b}/compare`` as OpenAPI sees it.

The response is encoded by ``web/api_eval_compare.py`` (orjson); these models document
it, and forbid fields they do not name, so ``tests/test_eval_compare.py`` validating a
response against them keeps the documentation equal to the code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompareRunOut(_Out):
    id: int
    suite_id: int
    suite: str
    project: str
    status: str = Field(description="running, passed, failed or error.")
    started_at: str = Field(description="ISO 8601 UTC.")
    finished_at: str | None
    selection_size: int | None = Field(description="Traces the run selected.")
    url: str = Field(description="The run's page.")


class VerdictFiguresOut(_Out):
    rows: int = Field(description="Verdict rows: passed, failed and not applicable.")
    passed: int
    failed: int
    not_applicable: int
    values: int = Field(description="Rows with a value.")
    mean: float | None = Field(description="Mean of the values.")
    pass_rate: float | None = Field(description="passed / (passed + failed).")


class VerdictLineOut(_Out):
    evaluator: str
    metric: str = Field(description="The evaluator's verdict metric.")
    a: VerdictFiguresOut | None = Field(description="Null: run A has no row of it.")
    b: VerdictFiguresOut | None
    pass_rate_delta: float | None = Field(description="B - A.")
    mean_delta: float | None = Field(description="B - A.")
    paired: int = Field(description="Keys judged in both runs.")
    regressed: int = Field(description="Keys that passed in A and fail in B.")
    improved: int = Field(description="Keys that failed in A and pass in B.")
    kept_passing: int
    kept_failing: int
    only_a: int = Field(description="Keys scored in run A only.")
    only_b: int
    by_item: bool = Field(description="Keys are dataset items (details.item_key).")


class ClipOut(_Out):
    text: str = Field(description="The first 2,000 characters.")
    length: int = Field(description="The whole text's length.")


class VerdictSideOut(_Out):
    run_id: int
    trace_id: str | None = Field(description="The key's trace in this run.")
    passed: bool | None
    value: float | None
    label: str | None
    explanation: str | None
    output: ClipOut | None = Field(description="The agent's output (dataset evaluators).")


class ChangedKeyOut(_Out):
    evaluator: str
    metric: str
    key: str = Field(description="The trace id, or the dataset item's key.")
    item_key: str | None
    expected: ClipOut | None = Field(description="The dataset item's expected output.")
    a: VerdictSideOut
    b: VerdictSideOut


class ChangesOut(_Out):
    total: int = Field(description="Every such key; rows lists the first `limit`.")
    rows: list[ChangedKeyOut]


class ToolLineOut(_Out):
    tool: str | None
    called: int = Field(description="Judged traces of run B that called the tool.")
    called_failed: int
    rate_called: float | None
    not_called: int
    not_called_failed: int
    rate_not_called: float | None
    difference: float | None = Field(description="rate_called - rate_not_called.")


class ToolAttributionOut(_Out):
    evaluator: str | None = Field(description="Whose verdict is failure; null: any.")
    judged: int = Field(description="Traces of run B with a verdict.")
    failed: int
    failure_rate: float | None
    tool_count: int = Field(description="Tools the judged traces called.")
    tools: list[ToolLineOut] = Field(description="Largest difference first; `limit` of them.")


class EscalationSideOut(_Out):
    judged: int
    escalated: int
    share: float | None


class EscalationStepOut(_Out):
    step: int | None = Field(description="1-based; null where the evaluator gave none.")
    a: int
    b: int


class EscalationToolOut(_Out):
    tool: str | None
    a: int
    b: int


class EscalationOut(_Out):
    evaluator: str
    a: EscalationSideOut
    b: EscalationSideOut
    steps: list[EscalationStepOut]
    tools: list[EscalationToolOut]


class RunComparisonOut(_Out):
    a: CompareRunOut = Field(description="The run held against.")
    b: CompareRunOut = Field(description="The run looked at.")
    against: str = Field(description="How A was chosen: given, baseline or previous.")
    warnings: list[str]
    verdicts: dict[str, str] = Field(description="Evaluator -> its verdict metric.")
    evaluator: str | None
    limit: int
    metrics: list[VerdictLineOut]
    regressed: ChangesOut
    improved: ChangesOut
    tools: ToolAttributionOut
    escalations: list[EscalationOut]
