"""The schedule API: scheduled suites, switching them, running them through the job queue.

GET   /api/schedules?project=       scheduled suites: next run, last run, open jobs, and
                                    an online suite's backlog
PATCH /api/suites/{id}              {"enabled": false} switches its schedule off (on: true)
POST  /api/suites/{id}/jobs         queue a run for any worker: 202 with the job's id
GET   /api/suites/{id}/jobs         its jobs, newest first: attempts, worker, run, error

``POST /api/suites/{id}/runs`` runs a suite in this server's own thread; a job here is
run by whichever worker (a server's, or a ``reasonlens worker`` process) claims it.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from evals.scheduler import run_now
from store import eval_reads, jobs
from store.eval_reads import SuiteRecord
from store.projects import project_id
from web.api_evals import suite_out
from web.deps import DbSession
from web.eval_schemas import (
    JobList,
    JobOut,
    JobQueuedOut,
    ScheduleList,
    ScheduleOut,
    SuiteOut,
    SuiteSwitchIn,
)
from web.origin import same_origin
from web.params import RowId
from web.request_body import json_body_doc, json_model
from web.schedules_view import schedule_lines

router = APIRouter()

MAX_SWITCH_BYTES = 1024


@router.get("/api/schedules", response_model=ScheduleList)
def list_schedules(
    request: Request,
    session: DbSession,
    project: str | None = Query(None, max_length=200, description="Omit for every project."),
) -> ScheduleList:
    return schedule_list(request.state.engine, session, project)


def schedule_list(engine: sa.Engine, session: Session, project: str | None) -> ScheduleList:
    """The list (also ``/api/schedules.csv`` and ``reasonlens export schedules``)."""
    found = None
    if project is not None:
        found = project_id(session.connection(), project)
        if found is None:
            raise HTTPException(404, f"no project named {project!r}")
    lines = schedule_lines(engine, session, found)
    return ScheduleList(
        schedules=[
            ScheduleOut(
                suite=suite_out(line.record),
                online=line.online,
                backlog_traces=None if line.backlog is None else line.backlog.traces,
                backlog_oldest_age_s=line.backlog_age_s,
                queued_jobs=line.queued,
                running_jobs=line.running,
                failed_jobs_24h=line.failed_recently,
                problem=line.problem,
            )
            for line in lines
        ]
    )


async def _switch(request: Request) -> SuiteSwitchIn:
    return await json_model(request, SuiteSwitchIn, MAX_SWITCH_BYTES, "the switch")


@router.patch(
    "/api/suites/{suite_id}",
    response_model=SuiteOut,
    dependencies=[Depends(same_origin)],
    openapi_extra=json_body_doc(SuiteSwitchIn),
)
def switch_suite(
    request: Request, session: DbSession, suite_id: RowId, switch: SuiteSwitchIn = Depends(_switch)
) -> SuiteOut:
    """Switch the schedule on or off; switched on, it starts again from now."""
    actor = request.state.principal.actor
    if not jobs.set_enabled(session.connection(), suite_id, switch.enabled, actor=actor):
        raise HTTPException(404, f"no eval suite {suite_id}")
    session.commit()
    return suite_out(_found(session, suite_id))


@router.post(
    "/api/suites/{suite_id}/jobs",
    response_model=JobQueuedOut,
    status_code=202,
    dependencies=[Depends(same_origin)],
)
def queue_job(request: Request, session: DbSession, suite_id: RowId) -> JobQueuedOut:
    record = _found(session, suite_id)
    session.rollback()  # the job is written on the engine's own connection
    job_id = run_now(request.state.engine, record.suite.project_id, suite_id)
    return JobQueuedOut(job_id=job_id, suite_id=suite_id)


@router.get("/api/suites/{suite_id}/jobs", response_model=JobList)
def suite_jobs(
    session: DbSession, suite_id: RowId, limit: int = Query(50, ge=1, le=500)
) -> JobList:
    _found(session, suite_id)
    found = jobs.jobs_of_suite(session.connection(), suite_id, limit)
    return JobList(jobs=[JobOut.model_validate(job, from_attributes=True) for job in found])


def _found(session: DbSession, suite_id: int) -> SuiteRecord:
    record = eval_reads.get_suite(session, suite_id)
    if record is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    return record
