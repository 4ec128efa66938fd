"""``/evals/schedules``: a project's scheduled suites, and switching or running them.

GET  /evals/schedules?project=          each scheduled suite: its cron, next run, last
                                        run, open jobs, an online suite's backlog
POST /evals/schedules/{id}/run          queue a run for any worker (the job table)
POST /evals/schedules/{id}/enable       switch the schedule on (from now) / off; each
POST /evals/schedules/{id}/disable      answers 303 back to the suite's project page

The same reading as ``GET /api/schedules`` (``web/schedules_view.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from evals.scheduler import run_now
from store import eval_reads, jobs
from store.eval_reads import SuiteRecord
from store.projects import project_id
from web.deps import DbSession
from web.evals_view import ns
from web.origin import same_origin
from web.pages.context import PageProject, page_project
from web.params import RowId
from web.schedules_view import ScheduleLine, schedule_lines
from web.templating import query_string, render

router = APIRouter()


@dataclass(frozen=True, slots=True)
class SchedulesView:
    lines: list[ScheduleLine]


@router.get("/evals/schedules", response_class=HTMLResponse)
def schedules_page(
    request: Request, session: DbSession, project: str | None = Query(None, max_length=200)
) -> HTMLResponse:
    chosen: PageProject = page_project(session, project or None)
    found = project_id(session.connection(), chosen.name) if chosen.name else None
    lines = [] if found is None else schedule_lines(request.state.engine, session, found)
    context = {"project": chosen, "view": SchedulesView(lines), "ns": ns}
    return render(request, "evals_schedules.html", context)


@router.post("/evals/schedules/{suite_id}/run", dependencies=[Depends(same_origin)])
def queue_run(request: Request, session: DbSession, suite_id: RowId) -> Response:
    record = _found(session, suite_id)
    session.rollback()
    run_now(request.state.engine, record.suite.project_id, suite_id)
    return _back(record)


@router.post("/evals/schedules/{suite_id}/enable", dependencies=[Depends(same_origin)])
def enable(request: Request, session: DbSession, suite_id: RowId) -> Response:
    return _switch(request, session, suite_id, True)


@router.post("/evals/schedules/{suite_id}/disable", dependencies=[Depends(same_origin)])
def disable(request: Request, session: DbSession, suite_id: RowId) -> Response:
    return _switch(request, session, suite_id, False)


def _switch(request: Request, session: DbSession, suite_id: int, enabled: bool) -> Response:
    record = _found(session, suite_id)
    actor = request.state.principal.actor
    jobs.set_enabled(session.connection(), suite_id, enabled, actor=actor)
    session.commit()
    return _back(record)


def _found(session: DbSession, suite_id: int) -> SuiteRecord:
    record = eval_reads.get_suite(session, suite_id)
    if record is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    return record


def _back(record: SuiteRecord) -> Response:
    return RedirectResponse(
        "/evals/schedules" + query_string({"project": record.project}), status_code=303
    )
