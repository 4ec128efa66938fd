"""The project of each id a route takes, so that ``web/access.py`` can check it.

A path or query parameter that names a row by id is looked up here: an eval run,
suite, alert, rule, budget, custom price or API key belongs to one project. Trace,
span and session ids and dataset names are unique only within a project, so routes
taking them read the ``project`` query parameter, which ``web/access.py`` checks and,
for a principal limited to some projects, always sets.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Request

from store.models import (
    Alert,
    AlertRule,
    ApiKey,
    Budget,
    CustomPrice,
    EvalRun,
    EvalSuite,
    Project,
)

Owned = Alert | AlertRule | ApiKey | Budget | CustomPrice | EvalRun | EvalSuite
_OWNERS: dict[str, type[Owned]] = {
    "run_id": EvalRun,
    "a": EvalRun,  # /evals/compare?a=&b=
    "b": EvalRun,  # /api/eval-runs/{b}/compare, /evals/compare?b=
    "against": EvalRun,  # /api/eval-runs/{b}/compare?against=
    "suite_id": EvalSuite,
    "alert_id": Alert,
    "rule_id": AlertRule,
    "budget_id": Budget,
    "price_id": CustomPrice,
    "key_id": ApiKey,
}
ID_PARAMS = frozenset(_OWNERS)
PROJECT_SCOPED_PARAMS = frozenset({"trace_id", "span_id", "session_id", "name"})
_LARGEST_ID = 2**63 - 1


def target_project(request: Request, param: str, value: str) -> str | None:
    """The name of the project that owns the row; None when there is no such row (the
    route answers that itself, as it would for anyone)."""
    try:
        row_id = int(value)
    except ValueError:
        return None
    if not 0 < row_id <= _LARGEST_ID:
        return None
    owner = _OWNERS[param]
    with request.state.engine.connect() as connection:
        return connection.scalar(
            sa.select(Project.name)
            .join(owner, owner.project_id == Project.id)
            .where(owner.id == row_id)
        )
