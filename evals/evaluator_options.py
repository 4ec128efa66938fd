"""Each evaluator's options as a suite writes them: one strict model per evaluator, so an
unknown option is an error with its place in the YAML, not ignored (``evals/suite.py``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evals.drift.options import DriftOptions
from store.vocabulary import SpanKind


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Evaluator options, one model per evaluator: an unknown option is an error, not ignored.
class NoOptions(Strict):
    pass


PiiKind = Literal["email", "phone", "card", "national_id", "iban", "secret"]


class PiiOptions(Strict):
    kinds: list[PiiKind] = Field(
        default_factory=lambda: ["email", "phone", "card", "national_id", "iban", "secret"],
        description="What counts as PII in outputs (answers, final output, assistant events).",
    )
    argument_kinds: list[PiiKind] = Field(
        default_factory=lambda: ["card", "national_id", "iban", "secret"],
        description="What counts in tool arguments; not emails and phones by default: "
        "that is how tools address people (send_email's `to`).",
    )
    allow: list[str] = Field(
        default_factory=list,
        description="Regexes: a finding whose value one matches (re.search) is not PII, "
        r"e.g. '@northwind\.example$'.",
    )
    result_kinds: list[PiiKind] = Field(
        default_factory=lambda: ["card", "national_id", "iban", "secret"],
        description="What to report in tool results (a metric apart, no verdict); contact "
        "details are what lookups return. Empty: tool results are not read.",
    )

    @model_validator(mode="after")
    def _allow_compiles(self) -> PiiOptions:
        for pattern in self.allow:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"allow: {pattern!r} is not a regex: {error}") from None
        return self


class PromptInjectionOptions(Strict):
    sources: list[Literal["input", "tool_result"]] = Field(
        default_factory=lambda: ["input", "tool_result"],
        description="Where injections are looked for: the user's input, tool results.",
    )
    phrases: list[str] = Field(
        default_factory=list,
        description="Extra regexes (case-insensitive) that mark an injection.",
    )

    @model_validator(mode="after")
    def _phrases_compile(self) -> PromptInjectionOptions:
        for pattern in self.phrases:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"phrases: {pattern!r} is not a regex: {error}") from None
        return self


class LoopsOptions(Strict):
    max_repeats: int = Field(
        3,
        ge=1,
        description="Successful identical tool calls (same tool and arguments) a trace may "
        "make in total, not only in a row; 1 makes any repeat a loop.",
    )


class ToolPolicyOptions(Strict):
    require_approval: list[str] = Field(
        default_factory=list, description="Tools a trace may call only after an approval."
    )
    approval_tools: list[str] = Field(
        default_factory=list,
        description="The approval step's tools; one counts when it succeeded, its result "
        "does not say denied, and the actions it names (if any) include the tool.",
    )
    forbidden: list[str] = Field(default_factory=list, description="Tools never allowed.")

    @model_validator(mode="after")
    def _approval_needs_a_step(self) -> ToolPolicyOptions:
        if self.require_approval and not self.approval_tools:
            raise ValueError("require_approval needs approval_tools: the step that approves")
        if not self.require_approval and not self.forbidden:
            raise ValueError("tool_policy needs require_approval or forbidden: a policy to check")
        return self


class StepBudgetOptions(Strict):
    max_steps: int = Field(..., ge=1)


class CostBudgetOptions(Strict):
    max_usd_per_trace: float | None = Field(None, gt=0)
    max_tokens_per_trace: int | None = Field(None, ge=1, description="Input plus output.")

    @model_validator(mode="after")
    def _some_budget(self) -> CostBudgetOptions:
        if self.max_usd_per_trace is None and self.max_tokens_per_trace is None:
            raise ValueError("cost_budget needs max_usd_per_trace or max_tokens_per_trace")
        return self


class LatencyOptions(Strict):
    max_ms: float | None = Field(None, gt=0, description="A trace's duration limit.")
    span_max_ms: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="Per span kind (llm, tool, ...): each span's limit."
    )

    @model_validator(mode="after")
    def _some_limit(self) -> LatencyOptions:
        if self.max_ms is None and not self.span_max_ms:
            raise ValueError("latency needs max_ms or span_max_ms")
        unknown = set(self.span_max_ms) - set(SpanKind)
        if unknown:
            known = ", ".join(kind.value for kind in SpanKind)
            raise ValueError(f"span_max_ms: unknown span kind {sorted(unknown)} (known: {known})")
        return self


class ToolRecoveryOptions(Strict):
    pass


class EscalationOptions(Strict):
    tools: list[str] = Field(
        default_factory=list,
        description="Tools that hand the run to a person, exact names; empty: the store's "
        "escalation patterns (escalat, handoff, human in the tool's name).",
    )


class ConfidentButWrongOptions(Strict):
    min_confidence: float = Field(
        0.8, ge=0, le=1, description="A trace's final reported confidence from which it counts."
    )
    correctness: Literal["expected_output", "llm_judge", "status"] = Field(
        "status", description="Which verdict says the answer was wrong."
    )


class ExpectedOutputOptions(Strict):
    dataset: str
    match: Literal["exact", "normalized", "contains", "regex", "json_schema", "numeric"] = (
        "normalized"
    )
    tolerance: float | None = Field(
        None, ge=0, description="numeric: the absolute difference allowed (default 0)."
    )
    relative_tolerance: float | None = Field(
        None, ge=0, description="numeric: the difference allowed, as a share of |expected|."
    )
    link: Literal["key", "input"] = Field(
        "key", description="Find a trace's item by an id attribute (key) or by its input."
    )
    key_attribute: str = Field(
        "dataset.item_id",
        pattern=r'^[^"\\]+$',
        description="The span attribute that holds the item's key (root span first).",
    )


class LlmJudgeOptions(Strict):
    endpoint: str = Field(..., pattern=r"^https?://")
    model: str
    rubric: str
    concurrency: int = Field(4, ge=1, le=64)
    api_key_env: str | None = Field(None, description="Environment variable with the key.")
    retries: int = Field(3, ge=0, le=10, description="Retries of a failed call, with backoff.")
    backoff_s: float = Field(
        1.0, gt=0, le=60, description="The first retry's wait, doubling (Retry-After wins)."
    )
    timeout_s: float = Field(60, gt=0)
    pass_score: float = Field(0.5, ge=0, le=1, description="Scores (0..1) from here pass.")
    usd_per_1k_input_tokens: float | None = Field(None, ge=0)
    usd_per_1k_output_tokens: float | None = Field(None, ge=0)


EVALUATOR_OPTIONS: dict[str, type[BaseModel]] = {
    "pii": PiiOptions,
    "prompt_injection": PromptInjectionOptions,
    "loops": LoopsOptions,
    "tool_policy": ToolPolicyOptions,
    "step_budget": StepBudgetOptions,
    "cost_budget": CostBudgetOptions,
    "latency": LatencyOptions,
    "expected_output": ExpectedOutputOptions,
    "llm_judge": LlmJudgeOptions,
    "tool_recovery": ToolRecoveryOptions,
    "escalation": EscalationOptions,
    "confident_but_wrong": ConfidentButWrongOptions,
    "drift": DriftOptions,
}
