"""Eval suites: the YAML a team writes, read into a typed definition or a precise error.

One definition runs the same from the CLI, the API and the dashboard, so reading it
lives here, apart from running it. A bad suite is refused whole with a message that
names the line and the field (``checkout.yaml:7:5: evaluators[3].loops.max_repeats:
Input should be greater than 0``): the CLI exits 2 with it, the API answers 400.

A suite has a name, a trace selection (the filters of ``/api/traces``, with ``since``
also taking an age such as ``24h``), evaluators (a bare name, or a one-key mapping of
the name to its options) and thresholds per evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from evals import cron
from evals.evaluator_options import EVALUATOR_OPTIONS
from store.times import BadParameter, duration_ns
from store.vocabulary import Status


class SuiteError(ValueError):
    """A suite that cannot be run, with where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selection(_Strict):
    """Which traces the suite scores: the filters of ``GET /api/traces``."""

    project: str = "default"
    service: str | None = None
    agent: str | None = None
    agent_version: str | None = None
    model: str | None = None
    status: Status | None = None
    session_id: str | None = None
    user_id: str | None = None
    since: str | None = Field(None, description="ISO time, nanoseconds, or an age: 24h, 7d.")
    until: str | None = None
    min_cost: float | None = Field(None, ge=0)
    max_cost: float | None = Field(None, ge=0)
    min_duration_ms: float | None = Field(None, ge=0)
    max_duration_ms: float | None = Field(None, ge=0)
    q: str | None = None


class Threshold(_Strict):
    """Limits on an evaluator's results over the run: its pass rate, and the mean and
    percentiles of its metric's values (cost in USD, duration in ms, ...)."""

    pass_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    max_mean: float | None = None
    min_mean: float | None = None
    max_p50: float | None = None
    max_p95: float | None = None
    max_drifted: int | None = Field(
        None, ge=0, description="drift: metrics that may drift (0: any drift fails the run)."
    )


class Online(_Strict):
    """Continuous scoring of production traffic: each scheduled run selects the traces
    that started since the window the previous run covered, so none is scored twice."""

    sample_rate: float = Field(
        1.0, gt=0, le=1, description="The share of traces scored; the same traces every time."
    )
    settle: str = Field(
        "2m",
        description="How long after a trace starts it is first scored, so its late spans "
        "have arrived: a trace whose spans arrive later than this is scored without them.",
    )
    max_judge_usd_per_day: float | None = Field(
        None, gt=0, description="The LLM judge's spend per UTC day; past it, traces go unjudged."
    )

    @field_validator("settle")
    @classmethod
    def _settle_is_a_duration(cls, value: str) -> str:
        try:
            duration_ns("settle", value)
        except BadParameter as error:
            raise ValueError(str(error).removeprefix("settle: ")) from None
        return value

    @property
    def settle_ns(self) -> int:
        return duration_ns("settle", self.settle)


@dataclass(frozen=True, slots=True)
class EvaluatorSpec:
    name: str
    options: BaseModel


class _SuiteDocument(_Strict):
    name: str = Field(..., min_length=1, max_length=200)
    select: Selection = Field(default_factory=Selection)
    evaluators: list[str | dict[str, dict[str, Any] | None]] = Field(..., min_length=1)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    schedule: str | None = Field(
        None, description="A cron expression, UTC (scheduled suites): 5 fields, or 6 with seconds."
    )
    online: Online | None = Field(
        None, description="Score only traces that arrived since the last scheduled run."
    )

    @field_validator("schedule")
    @classmethod
    def _schedule_parses(cls, value: str | None) -> str | None:
        return None if value is None else cron.check(value)


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    select: Selection
    evaluators: tuple[EvaluatorSpec, ...]
    thresholds: dict[str, Threshold]
    schedule: str | None
    source: str  # the YAML as written, stored with each run
    online: Online | None = None


def load_suite(text: str, source: str = "<suite>") -> Suite:
    """Parse and validate a suite; :class:`SuiteError` names ``source:line:column``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(error, "problem", None) or str(error)
        raise SuiteError(f"{where}: not valid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise SuiteError(f"{source}: a suite is a mapping with name, select and evaluators")
    try:
        parsed = _SuiteDocument.model_validate(document)
    except ValidationError as error:
        raise SuiteError(_describe(error, root, source)) from None
    evaluators = tuple(
        _evaluator(entry, index, root, source) for index, entry in enumerate(parsed.evaluators)
    )
    names = [spec.name for spec in evaluators]
    for index, spec in enumerate(evaluators):
        if names.count(spec.name) > 1:
            where = _where(root, ("evaluators", index), source)
            raise SuiteError(f"{where}: evaluators[{index}]: {spec.name} is listed twice")
        needs = getattr(spec.options, "correctness", None)
        if needs in EVALUATOR_OPTIONS and needs not in names[:index]:
            where = _where(root, ("evaluators", index), source)
            raise SuiteError(
                f"{where}: evaluators[{index}].{spec.name}.correctness: {needs} must be "
                "listed before it (its verdict says which answers were wrong)"
            )
    if parsed.online is not None and parsed.schedule is None:
        where = _where(root, ("online",), source)
        raise SuiteError(f"{where}: online: needs a schedule (its runs move the window on)")
    if parsed.online is not None and parsed.online.max_judge_usd_per_day is not None:
        judge = next((spec for spec in evaluators if spec.name == "llm_judge"), None)
        prices = ("usd_per_1k_input_tokens", "usd_per_1k_output_tokens")
        if judge is None or any(getattr(judge.options, name) is None for name in prices):
            where = _where(root, ("online", "max_judge_usd_per_day"), source)
            raise SuiteError(
                f"{where}: online.max_judge_usd_per_day: needs an llm_judge with "
                "usd_per_1k_input_tokens and usd_per_1k_output_tokens (its cost is what is capped)"
            )
    for name, threshold in parsed.thresholds.items():
        where = _where(root, ("thresholds", name), source)
        if name not in names:
            raise SuiteError(f"{where}: thresholds.{name}: no evaluator {name!r} in this suite")
        if threshold.max_drifted is not None and name != "drift":
            raise SuiteError(
                f"{where}: thresholds.{name}.max_drifted: only drift has drifted metrics"
            )
    return Suite(
        parsed.name,
        parsed.select,
        evaluators,
        parsed.thresholds,
        parsed.schedule,
        text,
        parsed.online,
    )


def _evaluator(
    entry: str | dict[str, dict[str, Any] | None], index: int, root: yaml.Node, source: str
) -> EvaluatorSpec:
    path: tuple[str | int, ...] = ("evaluators", index)
    if isinstance(entry, str):
        name, options = entry, {}
    elif len(entry) == 1:
        name, raw = next(iter(entry.items()))
        options = raw or {}
    else:
        raise SuiteError(
            f"{_where(root, path, source)}: evaluators[{index}]: one evaluator per item "
            "(`- name` or `- name: {options}`)"
        )
    model = EVALUATOR_OPTIONS.get(name)
    if model is None:
        known = ", ".join(sorted(EVALUATOR_OPTIONS))
        raise SuiteError(
            f"{_where(root, path, source)}: evaluators[{index}]: unknown evaluator "
            f"{name!r} (known: {known})"
        )
    try:
        return EvaluatorSpec(name, model.model_validate(options))
    except ValidationError as error:
        option_path = (*path, name) if isinstance(entry, dict) else path
        raise SuiteError(_describe(error, root, source, option_path)) from None


def _describe(
    error: ValidationError, root: yaml.Node, source: str, prefix: tuple[str | int, ...] = ()
) -> str:
    """The first problem, located: pydantic's path mapped back onto the YAML nodes. An
    unknown key comes first: it is usually a typo that also explains a "missing" one."""
    first = min(error.errors(), key=lambda problem: problem["type"] != "extra_forbidden")
    path = (*prefix, *(part for part in first["loc"] if not _is_union_tag(part)))
    dotted = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    message = first["msg"].removeprefix("Value error, ")
    return f"{_where(root, path, source)}: {dotted.lstrip('.')}: {message}"


def _is_union_tag(part: str | int) -> bool:
    # pydantic names the union member it tried ("str", "dict[str,...]"): not a YAML key.
    return isinstance(part, str) and (part in ("str", "function-after") or "[" in part)


def _where(root: yaml.Node | None, path: tuple[str | int, ...], source: str) -> str:
    """``source:line:column`` of the deepest node of ``path`` that exists."""
    node = root
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        node = child
    if node is None:
        return source
    return f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None
