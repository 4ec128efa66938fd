"""The eval pages: a project's suites and runs, one suite's history, one run's results.

/evals                        suites (last run, pass rates) and recent runs; a form to
                              paste or upload a suite (POST /evals/suites, errors inline)
/evals/suites/{id}            the definition and its runs, newest first
/evals/suites/{id}/run        POST "Run now": starts a run, redirects to its page
/evals/runs/{id}              figures per evaluator, thresholds, the selection's cost,
                              score histograms, the results (?evaluator=, ?failed=1)
/evals/runs/{id}/charts       its histograms, loaded apart (htmx) as they read every score
/evals/runs/{id}/progress     a running run's progress, polled by htmx (``HX-Refresh``
                              reloads the page once it finished)

A suite names its project in its YAML (``select.project``), so suite and run pages show
that project rather than a picker. The figures come from the run's stored summary
(``web/evals_view.py``), the same reading as ``GET /api/eval-runs/{id}``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from evals.background import Busy, Progress
from evals.suite import SuiteError
from store import eval_reads
from store.eval_reads import RunRecord
from store.jobs import jobs_of_suite
from store.models import DEFAULT_PROJECT, EvalRun
from store.projects import project_id
from store.queries import InvalidCursor
from web import evals_view
from web.api_eval_csv import RECENT_RUNS, SUITE_RUNS
from web.deps import DbSession
from web.drift_series import drift_series
from web.drift_view import DriftView, drift_view
from web.eval_actions import MAX_SUITE_BYTES, SuiteNotFound, save_suite, start_suite_run
from web.eval_page_views import EvalsView, EvaluatorLine, RunLine, RunView, SuiteLine, SuiteView
from web.eval_urls import compare_url
from web.evals_view import Chart
from web.forms import form_reader
from web.origin import same_origin
from web.pages.context import PageProject, page_project
from web.params import RowId
from web.templating import query_string, render

router = APIRouter()

PAGE_RUNS = SUITE_RUNS  # the drift table's runs: its CSV reads as many
PAGE_JOBS = 20
PAGE_SCORES = 50
KEPT_CHARTS = 64  # finished runs whose histograms are kept in memory
_CHARTS: OrderedDict[int, list[Chart]] = OrderedDict()
_CHARTS_LOCK = threading.Lock()
EXAMPLE = """\
name: nightly
select: {{project: {project}, since: 24h}}
evaluators:
  - step_budget: {{max_steps: 25}}
  - cost_budget: {{max_usd_per_trace: 0.50}}
thresholds:
  step_budget: {{pass_rate: 0.95}}
"""


@router.get("/evals", response_class=HTMLResponse)
def evals_page(
    request: Request, session: DbSession, project: str | None = Query(None)
) -> HTMLResponse:
    chosen = page_project(session, project or None)
    # A JSON string is a YAML scalar: any project name stays one value.
    example = EXAMPLE.format(project=json.dumps(chosen.name or DEFAULT_PROJECT))
    return _evals(request, session, chosen, example)


# Percent-encoding makes a suite up to three times longer on the wire.
posted_form = form_reader(3 * MAX_SUITE_BYTES, fields=20)


@router.post("/evals/suites", response_class=HTMLResponse, dependencies=[Depends(same_origin)])
def upload_suite(
    request: Request, session: DbSession, form: Annotated[dict[str, str], Depends(posted_form)]
) -> Response:
    definition = form.get("definition", "").replace("\r\n", "\n")
    try:
        saved = save_suite(request, definition)
    except SuiteError as error:
        chosen = page_project(session, form.get("project") or None)
        return _evals(request, session, chosen, definition, str(error), status_code=400)
    return RedirectResponse(f"/evals/suites/{saved.suite_id}", status_code=303)


@router.post("/evals/suites/{suite_id}/run", dependencies=[Depends(same_origin)])
def run_now(request: Request, suite_id: RowId) -> Response:
    try:
        started = start_suite_run(request.state.engine, request.state.eval_runs, suite_id)
    except SuiteNotFound as error:
        raise HTTPException(404, str(error)) from None
    except SuiteError as error:
        raise HTTPException(400, f"the suite no longer reads: {error}") from None
    except Busy as error:
        raise HTTPException(503, f"the run was not started: {error}") from None
    return RedirectResponse(f"/evals/runs/{started.run_id}", status_code=303)


@router.get("/evals/suites/{suite_id}", response_class=HTMLResponse)
def suite_page(
    request: Request,
    session: DbSession,
    suite_id: RowId,
    cursor: str | None = Query(None, max_length=200),
) -> HTMLResponse:
    record = eval_reads.get_suite(session, suite_id)
    if record is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    try:
        page = eval_reads.suite_runs(session, suite_id, limit=PAGE_RUNS, cursor=cursor or None)
    except InvalidCursor as error:
        raise HTTPException(400, f"cursor: {error}") from None
    lines = [_line(run) for run in page.runs]
    columns: dict[str, None] = {}
    for line in lines:
        columns.update(dict.fromkeys(line.pass_rates))
    here = f"/evals/suites/{suite_id}"
    view = SuiteView(
        record,
        lines,
        list(columns),
        next_link=here + query_string({"cursor": page.next_cursor}) if page.next_cursor else None,
        first_link=here if cursor else None,
        jobs=jobs_of_suite(session.connection(), suite_id, limit=PAGE_JOBS),
        drift=drift_series(page.runs),
        cursor=cursor or None,
        jobs_shown=PAGE_JOBS,
    )
    context = {"project": PageProject(record.project, []), "view": view}
    return _render(request, "evals_suite.html", context)


@router.get("/evals/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    session: DbSession,
    run_id: RowId,
    evaluator: str | None = Query(None, max_length=200),
    failed: str | None = Query(None, max_length=10),
    cursor: str | None = Query(None, max_length=200),
) -> HTMLResponse:
    record = _found_run(session, run_id)
    run = record.run
    failed_only = (failed or "").lower() in ("1", "true", "on", "yes")
    try:
        page = eval_reads.run_scores(
            session,
            run,
            evaluator=evaluator or None,
            failed_only=failed_only,
            limit=PAGE_SCORES,
            cursor=cursor or None,
        )
    except InvalidCursor as error:
        raise HTTPException(400, f"cursor: {error}") from None
    form = {"evaluator": evaluator or "", "failed": "1" if failed_only else ""}
    here = f"/evals/runs/{run.id}"
    checks = evals_view.threshold_checks(run)
    figures = evals_view.evaluator_figures(run)
    previous = eval_reads.previous_run_id(session, run)
    baseline = record.baseline_run_id
    held, total = evals_view.thresholds_held(run)
    view = RunView(
        record,
        duration_s=evals_view.duration_s(run, now=datetime.now(UTC)),
        progress=_progress(request, run),
        evaluators=[
            EvaluatorLine(
                name,
                metric,
                figures.get(name),
                [check for check in checks if check.get("evaluator") == name],
            )
            for name, metric in evals_view.evaluator_metrics(run)
        ],
        thresholds=checks,
        selection=evals_view.selection_figures(run),
        charted=any(fig.get("values") for fig in figures.values()),
        scores=page.rows,
        evaluator=evaluator or None,
        failed_only=failed_only,
        next_link=here + query_string(form, cursor=page.next_cursor) if page.next_cursor else None,
        first_link=here + query_string(form) if cursor else None,
        previous_link=compare_url(run.id, previous) if previous else None,
        baseline_link=compare_url(run.id, baseline) if baseline and baseline != run.id else None,
        held=held,
        checks=total,
        form=form,
        drift=_drift(figures),
    )
    context = {"project": PageProject(record.project, []), "view": view}
    return _render(request, "evals_run.html", context)


@router.get("/evals/runs/{run_id}/charts", response_class=HTMLResponse)
def run_charts(request: Request, session: DbSession, run_id: RowId) -> HTMLResponse:
    """The score histograms: a fragment for htmx, else a page of their own."""
    record = _found_run(session, run_id)
    context = {"run": record.run, "charts": _charts(session, record.run)}
    if request.headers.get("hx-request") == "true":
        return _render(request, "evals_run_charts.html", context)
    page = {**context, "project": PageProject(record.project, []), "record": record}
    return _render(request, "evals_run_charts_page.html", page)


@router.get("/evals/runs/{run_id}/progress", response_class=HTMLResponse)
def run_progress(request: Request, session: DbSession, run_id: RowId) -> Response:
    """The progress line alone; once the run has finished, htmx reloads the whole page."""
    run = _found_run(session, run_id).run
    if run.status != "running":
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    context = {
        "run": run,
        "progress": _progress(request, run),
        "elapsed_s": evals_view.duration_s(run, now=datetime.now(UTC)),
    }
    return render(request, "evals_run_progress.html", context)


def _evals(
    request: Request,
    session: Session,
    chosen: PageProject,
    definition: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = project_id(session.connection(), chosen.name) if chosen.name else None
    suites: list[SuiteLine] = []
    runs: list[RunLine] = []
    if found is not None:
        suites = [
            SuiteLine(record, None if record.last_run is None else _line(record.last_run))
            for record in eval_reads.list_suites(session, found)
        ]
        runs = [
            _line(record.run, record.suite_name)
            for record in eval_reads.recent_runs(session, found, limit=RECENT_RUNS)
        ]
    view = EvalsView(suites, runs, definition, error)
    return _render(request, "evals.html", {"project": chosen, "view": view}, status_code)


def _line(run: EvalRun, suite_name: str = "") -> RunLine:
    held, total = evals_view.thresholds_held(run)
    return RunLine(
        run,
        evals_view.duration_s(run, now=datetime.now(UTC)),
        evals_view.pass_rates(run),
        held,
        total,
        suite_name,
    )


def _drift(figures: dict[str, dict[str, Any]]) -> DriftView | None:
    report = (figures.get("drift") or {}).get("extra")
    return drift_view(report) if report and "metrics" in report else None


def _found_run(session: Session, run_id: int) -> RunRecord:
    record = eval_reads.get_run(session, run_id)
    if record is None:
        raise HTTPException(404, f"no eval run {run_id}")
    return record


def _progress(request: Request, run: EvalRun) -> Progress | None:
    if run.status != "running":
        return None
    runs = getattr(request.state, "eval_runs", None)
    return None if runs is None else runs.progress(run.id)


def _charts(session: Session, run: EvalRun) -> list[Chart]:
    """A histogram per evaluator whose verdicts carry values (finished runs only).

    Each reads every verdict row of its evaluator (two aggregates over 100,000 rows for
    a run of 100,000 traces: about a second on SQLite), so the page loads them apart
    and a finished run's charts, which never change, are kept.
    """
    with _CHARTS_LOCK:
        if run.id in _CHARTS:
            _CHARTS.move_to_end(run.id)
            return _CHARTS[run.id]
    figures = evals_view.evaluator_figures(run)
    charts = [
        evals_view.histogram_chart(eval_reads.score_histogram(session, run.id, name, fig["metric"]))
        for name, fig in figures.items()
        if fig.get("values") and fig.get("metric")
    ]
    if run.status != "running":
        with _CHARTS_LOCK:
            _CHARTS[run.id] = charts
            while len(_CHARTS) > KEPT_CHARTS:
                _CHARTS.popitem(last=False)
    return charts


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context = {**context, "fmt_value": evals_view.fmt_value, "ns": evals_view.ns}
    return render(request, template, context, status_code=status_code)
