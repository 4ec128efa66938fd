"""The eval API: suites, runs started in the background, a run's scores, human feedback.

POST /api/suites                      a suite's YAML (text/yaml, or JSON {"definition"})
GET  /api/suites?project=             suites with their latest run
GET  /api/suites/{id}                 one suite
GET  /api/suites/{id}/runs            its runs, newest first (keyset cursor)
POST /api/suites/{id}/runs            start a run: 202 with its id, scored in the background
GET  /api/eval-runs/{id}              status, figures per evaluator, thresholds, progress
GET  /api/eval-runs/{id}/scores       its scores (evaluator=, failed=true; keyset cursor)
POST /api/scores                      a person's verdict on a trace or span

A suite that does not read is a 400 naming line, column and field (``evals/suite.py``).
The router's lifespan owns the worker thread that executes runs (``evals/background``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from evals.background import Busy, background_runs
from evals.suite import SuiteError
from store import eval_reads
from store.eval_reads import RunRecord, SuiteRecord
from store.evals import NewScore
from store.feedback import add_feedback
from store.models import EvalRun, Score
from store.principals import Principal
from store.projects import project_id
from store.queries import InvalidCursor
from web import evals_view
from web.access import allow
from web.deps import DbSession
from web.eval_actions import MAX_SUITE_BYTES, SuiteNotFound, save_suite, start_suite_run
from web.eval_schemas import (
    FeedbackIn,
    RunBriefOut,
    RunList,
    RunOut,
    RunScoreOut,
    RunStartedOut,
    ScoreList,
    ScoreOut,
    SuiteDefinitionIn,
    SuiteList,
    SuiteOut,
)
from web.origin import same_origin
from web.params import RowId
from web.request_body import json_body_doc, media_type, read_body, text

router = APIRouter(lifespan=background_runs)

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
SUITE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": SuiteDefinitionIn.model_json_schema()},
        },
    }
}
FEEDBACK_BODY = json_body_doc(FeedbackIn)
MAX_FEEDBACK_BYTES = 64 * 1024
RETRY_AFTER_S = 10


async def suite_definition(request: Request) -> str:
    """The suite's YAML from the body: as it is (YAML types) or JSON's ``definition``."""
    kind = media_type(request)
    if kind not in (*YAML_TYPES, "application/json"):
        raise HTTPException(
            415, 'send the suite as application/yaml, or as JSON {"definition": ...}'
        )
    body = await read_body(request, MAX_SUITE_BYTES)
    if kind != "application/json":
        return text(body)
    try:
        return SuiteDefinitionIn.model_validate_json(body).definition
    except ValidationError as error:
        raise HTTPException(422, _problems(error)) from None


def _problems(error: ValidationError) -> list[dict[str, object]]:
    """Pydantic's errors as FastAPI words them, without the input (it may not be JSON)."""
    return [
        {"type": problem["type"], "loc": ["body", *problem["loc"]], "msg": problem["msg"]}
        for problem in error.errors(include_url=False, include_input=False)
    ]


@router.post(
    "/api/suites",
    response_model=SuiteOut,
    status_code=201,
    dependencies=[Depends(same_origin)],
    openapi_extra=SUITE_BODY,
    responses={200: {"description": "A suite of that name existed: its definition replaced."}},
)
def create_suite(
    request: Request,
    response: Response,
    session: DbSession,
    definition: Annotated[str, Depends(suite_definition)],
) -> SuiteOut:
    """Store a suite (by project and name: sending it again replaces its definition)."""
    try:
        saved = save_suite(request, definition)
    except SuiteError as error:
        raise HTTPException(400, str(error)) from None
    if not saved.created:
        response.status_code = 200
    return suite_out(_found_suite(session, saved.suite_id))


@router.get("/api/suites", response_model=SuiteList)
def list_suites(
    session: DbSession,
    project: str | None = Query(None, max_length=200, description="Omit for every project."),
) -> SuiteList:
    found = None
    if project is not None:
        found = project_id(session.connection(), project)
        if found is None:
            raise HTTPException(404, f"no project named {project!r}")
    return SuiteList(
        suites=[suite_out(record) for record in eval_reads.list_suites(session, found)]
    )


@router.get("/api/suites/{suite_id}", response_model=SuiteOut)
def get_suite(session: DbSession, suite_id: RowId) -> SuiteOut:
    return suite_out(_found_suite(session, suite_id))


@router.get("/api/suites/{suite_id}/runs", response_model=RunList)
def suite_runs(
    session: DbSession,
    suite_id: RowId,
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=200),
) -> RunList:
    _found_suite(session, suite_id)
    try:
        page = eval_reads.suite_runs(session, suite_id, limit=limit, cursor=cursor)
    except InvalidCursor as error:
        raise HTTPException(400, str(error)) from None
    return RunList(runs=[_brief(run) for run in page.runs], next_cursor=page.next_cursor)


@router.post(
    "/api/suites/{suite_id}/runs",
    response_model=RunStartedOut,
    status_code=202,
    dependencies=[Depends(same_origin)],
)
def start_run(request: Request, suite_id: RowId) -> RunStartedOut:
    """Start a run of the suite as stored; poll ``GET /api/eval-runs/{run_id}``."""
    try:
        started = start_suite_run(request.state.engine, request.state.eval_runs, suite_id)
    except SuiteNotFound as error:
        raise HTTPException(404, str(error)) from None
    except SuiteError as error:
        raise HTTPException(400, str(error)) from None
    except Busy as error:
        raise HTTPException(
            503, f"not started: {error}", headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from None
    return RunStartedOut(run_id=started.run_id, suite_id=started.suite_id, status="running")


@router.get("/api/eval-runs/{run_id}", response_model=RunOut)
def get_run(request: Request, session: DbSession, run_id: RowId) -> RunOut:
    record = _found_run(session, run_id)
    run = record.run
    progress = request.state.eval_runs.progress(run.id) if run.status == "running" else None
    held, total = evals_view.thresholds_held(run)
    return RunOut.model_validate(
        {
            "id": run.id,
            "suite_id": run.suite_id,
            "suite": record.suite_name,
            "project": record.project,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_s": evals_view.duration_s(run),
            "selection_size": run.selection_size,
            "evaluators": evals_view.evaluator_figures(run) or None,
            "thresholds": evals_view.threshold_checks(run),
            "thresholds_held": None if run.summary is None else held == total,
            "selection": evals_view.selection_figures(run),
            "error": run.error,
            "progress": None if progress is None else asdict(progress),
            "definition": run.definition,
        }
    )


@router.get("/api/eval-runs/{run_id}/scores", response_model=ScoreList)
def run_scores(
    session: DbSession,
    run_id: RowId,
    evaluator: str | None = Query(None, max_length=200, description="One evaluator's scores."),
    failed: bool = Query(False, description="Only verdicts that did not pass."),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=200),
) -> ScoreList:
    record = _found_run(session, run_id)
    try:
        page = eval_reads.run_scores(
            session,
            record.run,
            evaluator=evaluator or None,
            failed_only=failed,
            limit=limit,
            cursor=cursor or None,
        )
    except InvalidCursor as error:
        raise HTTPException(400, str(error)) from None
    scores = [
        RunScoreOut(
            **_score_fields(row.score, record.project),
            trace_name=row.trace_name,
            trace_status=row.trace_status,
        )
        for row in page.rows
    ]
    return ScoreList(scores=scores, next_cursor=page.next_cursor)


async def feedback_body(request: Request) -> FeedbackIn:
    """The feedback, validated here rather than by FastAPI: Python's JSON reader takes
    ``Infinity``, and FastAPI's 422 would echo it back as JSON that cannot be written."""
    if media_type(request) != "application/json":
        raise HTTPException(415, "send feedback as application/json")
    body = await read_body(request, MAX_FEEDBACK_BYTES)
    try:
        return FeedbackIn.model_validate_json(body)
    except ValidationError as error:
        raise HTTPException(422, _problems(error)) from None


@router.post(
    "/api/scores",
    response_model=ScoreOut,
    status_code=201,
    dependencies=[Depends(same_origin)],
    openapi_extra=FEEDBACK_BODY,
)
def add_score(
    request: Request, session: DbSession, feedback: Annotated[FeedbackIn, Depends(feedback_body)]
) -> ScoreOut:
    """Human feedback on a trace (or one of its spans), stored as a score with source
    ``human``; ``project`` is needed only when the trace id is in several projects."""
    trace_id = feedback.trace_id.lower()
    principal: Principal = request.state.principal
    found = [
        (name, pid)
        for name, pid in eval_reads.trace_projects(session, trace_id, feedback.project)
        if principal.may(name, "read")
    ]
    if not found:
        where = f" in project {feedback.project!r}" if feedback.project else ""
        raise HTTPException(404, f"trace {trace_id} not found{where}")
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise HTTPException(
            400, f"trace {trace_id} exists in several projects ({names}); pass project"
        )
    project, pid = found[0]
    allow(request, project, "write")
    span_id = feedback.span_id.lower() if feedback.span_id else None
    if span_id is not None and not eval_reads.span_exists(session, pid, trace_id, span_id):
        raise HTTPException(404, f"span {span_id} not found in trace {trace_id}")
    score = NewScore(
        trace_id=trace_id,
        span_id=span_id,
        evaluator=feedback.name,
        metric=feedback.metric or feedback.name,
        value=feedback.value,
        label=feedback.label,
        passed=feedback.passed,
        explanation=feedback.explanation,
    )
    with request.state.engine.begin() as connection:
        stored = add_feedback(connection, pid, score)
    return ScoreOut(**_score_fields(stored, project))


def _found_suite(session: Session, suite_id: int) -> SuiteRecord:
    record = eval_reads.get_suite(session, suite_id)
    if record is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    return record


def _found_run(session: Session, run_id: int) -> RunRecord:
    record = eval_reads.get_run(session, run_id)
    if record is None:
        raise HTTPException(404, f"no eval run {run_id}")
    return record


def suite_out(record: SuiteRecord) -> SuiteOut:
    suite = record.suite
    return SuiteOut(
        id=suite.id,
        project=record.project,
        name=suite.name,
        schedule=suite.schedule,
        enabled=suite.enabled,
        next_run_at=suite.next_run_at if suite.enabled else None,
        definition=suite.definition,
        baseline_run_id=suite.baseline_run_id,
        created_at=suite.created_at,
        updated_at=suite.updated_at,
        run_count=record.run_count,
        last_run=None if record.last_run is None else _brief(record.last_run),
    )


def _brief(run: EvalRun) -> RunBriefOut:
    held, total = evals_view.thresholds_held(run)
    return RunBriefOut.model_validate(
        {
            "id": run.id,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "selection_size": run.selection_size,
            "pass_rates": evals_view.pass_rates(run),
            "thresholds_held": held,
            "thresholds_total": total,
        }
    )


def _score_fields(score: Score, project: str) -> dict[str, object]:
    return {
        "id": score.id,
        "run_id": score.run_id,
        "project": project,
        "trace_id": score.trace_id,
        "span_id": score.span_id,
        "evaluator": score.evaluator,
        "metric": score.metric,
        "value": score.value,
        "label": score.label,
        "passed": score.passed,
        "explanation": score.explanation,
        "details": score.details,
        "source": score.source,
        "created_at": score.created_at,
    }
