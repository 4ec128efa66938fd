"""The ad-hoc drift query, shared by ``GET /api/drift`` and the ``/drift`` page: which
traces are the current cohort, which the baseline, which metrics and limits.

The current cohort is named with ``/api/traces``' filters (``agent``, ``version``,
``model``, ``since``, ``until``); the baseline with ``baseline_version``, or
``baseline_since``/``baseline_until`` (a window), or ``baseline_known_good=true``, the
default when none is given. Anything that cannot be answered is a
:class:`DriftQueryError` with a message naming the parameter; both routes answer 400.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from evals.drift import cohort
from evals.drift.baseline import BaselineError, resolve_baseline
from evals.drift.metrics import chosen
from evals.drift.options import SCORE_PREFIX, BaselineSpec, DriftOptions, Thresholds
from evals.drift.report import build_report
from store import known_good
from store.projects import project_id
from store.queries import TraceFilter
from web.params import BadParameter, time_ns


class DriftQueryError(ValueError):
    """A drift query that cannot be answered; the message says which parameter."""


class DriftParams(BaseModel):
    project: str = Field(..., min_length=1, max_length=200, description="Project name.")
    agent: str | None = Field(None, max_length=1000, description="Agent of both cohorts.")
    version: str | None = Field(None, max_length=1000, description="The current version.")
    model: str | None = Field(None, max_length=1000, description="A model both cohorts used.")
    since: str | None = Field(None, description="Current cohort from: ISO, ns or an age (7d).")
    until: str | None = Field(None, description="Current cohort until (same forms).")
    baseline_version: str | None = Field(None, max_length=1000)
    baseline_since: str | None = Field(None, description="A baseline window's start.")
    baseline_until: str | None = Field(None, description="A baseline window's end.")
    baseline_known_good: bool = Field(False, description="The version marked known-good.")
    metrics: list[str] | None = Field(None, description="Metric names; all if omitted.")
    p_value: float | None = Field(None, description="Report-wide significance (0.01).")
    psi: float | None = None
    effect_size: float | None = None
    divergence: float | None = None
    min_n: int | None = None
    limit: int | None = Field(None, description="Newest traces per cohort (20,000).")


def drift_report(session: Session, params: DriftParams) -> dict[str, Any]:
    """The report the parameters ask for; :class:`DriftQueryError` when they cannot."""
    options = _options(params)
    connection = session.connection()
    pid = project_id(connection, params.project)
    if pid is None:
        raise DriftQueryError(f"project: no project named {params.project!r}")
    if _running_by_default(params, options):
        # "Is what runs now still like what we vouched for?": the agent's running version.
        params = params.model_copy(update={"version": _running_version(session, pid, params)})
    try:
        current = TraceFilter(
            project=params.project,
            agent=params.agent,
            agent_version=params.version,
            model=params.model,
            start_after_ns=time_ns("since", params.since),
            start_before_ns=time_ns("until", params.until),
        )
        baseline_filter, baseline_label = resolve_baseline(connection, options.baseline, current)
    except (BadParameter, BaselineError) as error:
        raise DriftQueryError(str(error)) from None
    now = cohort.load(connection, current, limit=options.limit)
    wanted = [
        tuple(name.removeprefix(SCORE_PREFIX).split(".", 1))
        for name in chosen(options.metrics, now)
        if name.startswith(SCORE_PREFIX)
    ]
    before = cohort.load(connection, baseline_filter, limit=options.limit, scores=wanted)
    return build_report(
        cohort.Cohort(before.traces, before.calls, before.scores, before.limited, baseline_label),
        cohort.Cohort(now.traces, now.calls, now.scores, now.limited, current_label(params)),
        metrics=options.metrics,
        thresholds=options.thresholds,
        limit=options.limit,
    )


def _running_by_default(params: DriftParams, options: DriftOptions) -> bool:
    """An agent alone against its known-good version: the current side is what runs now."""
    bounded = params.version or params.since or params.until or params.model
    return bool(params.agent) and not bounded and options.baseline.known_good


def _running_version(session: Session, pid: int, params: DriftParams) -> str | None:
    assert params.agent is not None
    return known_good.current_versions(session, pid, [params.agent])[params.agent]


def current_label(params: DriftParams) -> str:
    """ "support 1.5", else the filters given."""
    words = [word for word in (params.agent, params.version) if word]
    if params.model:
        words.append(f"model={params.model}")
    if params.since or params.until:
        words.append(f"{params.since or '…'} to {params.until or 'now'}")
    return " ".join(words) or "all traces"


def _options(params: DriftParams) -> DriftOptions:
    """The evaluator's own options model checks the query, so both say the same."""
    window = None
    if params.baseline_since or params.baseline_until:
        window = {"since": params.baseline_since, "until": params.baseline_until}
    given = {
        name: value
        for name, value in (
            ("version", params.baseline_version),
            ("window", window),
            ("known_good", params.baseline_known_good or None),
        )
        if value is not None
    }
    limits = {
        name: getattr(params, name)
        for name in Thresholds.model_fields
        if getattr(params, name) is not None
    }
    try:
        return DriftOptions.model_validate(
            {
                "baseline": BaselineSpec.model_validate(given or {"known_good": True}),
                "metrics": params.metrics or "all",
                "thresholds": Thresholds.model_validate(limits),
                **({"limit": params.limit} if params.limit is not None else {}),
            }
        )
    except ValidationError as error:
        raise DriftQueryError(_problem(error)) from None


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "baseline"
    where = {"version": "baseline_version", "window": "baseline_since"}.get(where, where)
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"
