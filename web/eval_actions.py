"""What the API and the dashboard both do to suites: read and store one, start a run.

Both surfaces share these so a suite is checked the same way wherever it arrives; each
maps the errors to its own answer (JSON for the API, an inline message on the page).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session

from evals.background import BackgroundRuns
from evals.evaluators import evaluator_class
from evals.runner import StartedRun, start_run
from evals.selection import trace_filter
from evals.suite import Suite, SuiteError, load_suite
from store import audit
from store import evals as store_evals
from store.models import EvalSuite
from store.principals import Principal
from store.projects import project_id, project_name_problem
from web.access import allow

SOURCE = "suite"  # how errors name the text: "suite:4:5: evaluators[0]..."
MAX_SUITE_BYTES = 1024 * 1024


class SuiteNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class SavedSuite:
    suite_id: int
    created: bool  # False: an existing suite of that name had its definition replaced
    suite: Suite


def read_suite(text: str) -> Suite:
    """The suite, or :class:`SuiteError`: bad YAML, a bad field, a ``since`` that does
    not parse, or an evaluator this installation cannot load."""
    suite = load_suite(text, SOURCE)
    trace_filter(suite.select)
    problem = project_name_problem(suite.select.project)
    if problem:
        raise SuiteError(f"{SOURCE}: select.project: {problem}")
    if "\x00" in suite.name + suite.select.project:
        raise SuiteError(f"{SOURCE}: name and select.project must not contain NUL characters")
    for spec in suite.evaluators:
        try:
            evaluator_class(spec.name)
        except (ImportError, KeyError) as error:
            raise SuiteError(
                f"{SOURCE}: evaluators: {spec.name} is not available here ({error})"
            ) from None
    return suite


def save_suite(request: Request, text: str) -> SavedSuite:
    """Store the suite for a principal who may write its project (404 or 403 if not),
    and log who did."""
    suite = read_suite(text)
    project = suite.select.project
    allow(request, project, "write")
    principal: Principal = request.state.principal
    with request.state.engine.begin() as connection:
        found = project_id(connection, project)
        existed = found is not None and connection.scalar(
            sa.select(EvalSuite.id).where(
                EvalSuite.project_id == found, EvalSuite.name == suite.name
            )
        )
        suite_id = store_evals.save_suite(
            connection, project, suite.name, suite.source, suite.schedule
        )
        audit.record(
            connection,
            principal.actor,
            "suite.replace" if existed else "suite.create",
            project_id=project_id(connection, project),
            target=suite.name,
            detail={"suite_id": suite_id, "schedule": suite.schedule},
        )
    return SavedSuite(suite_id, not existed, suite)


def start_suite_run(engine: sa.Engine, runs: BackgroundRuns, suite_id: int) -> StartedRun:
    """Start a run of a stored suite and queue it; :class:`SuiteNotFound`,
    :class:`SuiteError` (its text no longer reads) or ``evals.background.Busy``."""
    with Session(engine) as session:
        definition = session.scalar(sa.select(EvalSuite.definition).where(EvalSuite.id == suite_id))
    if definition is None:
        raise SuiteNotFound(f"no eval suite {suite_id}")
    suite = read_suite(definition)
    started = start_run(engine, suite)
    runs.submit(engine, suite, started)
    return started
