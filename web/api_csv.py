"""The long CSV exports, streamed: traces, spans, an eval run's scores.

GET /api/traces.csv                  every trace ``/api/traces`` selects (same filters)
GET /api/spans.csv                   spans by project, trace, kind, model, start time
GET /api/eval-runs/{id}/scores.csv   a run's scores (evaluator=, failed=true)
GET /api/eval-runs/{id}/summary.csv  a run's figures per evaluator (pandas-built, small)
GET /api/suites/{id}/runs.csv        a suite's runs, a row per run and evaluator (pandas)
GET /api/suites.csv?project=         the suites of the evals page (pandas)
GET /api/traces/{id}/scores.csv      the trace page's scores table (pandas)

Parameters are checked before the first byte is sent, so a bad one is a 4xx: once
streaming, a status cannot change. Rows are read in keyset chunks (``store.exports``)
and written as they are read (``web.exports.csv_writer``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from store import eval_reads
from store.exports import SpanFilter
from store.projects import project_id
from store.score_read import trace_scores
from store.vocabulary import SpanKind
from web.exports.csv_writer import filename
from web.exports.reports import (
    RUNS_COLUMNS,
    SUITES_COLUMNS,
    SUMMARY_COLUMNS,
    frame_csv,
    run_summary_frame,
    runs_frame,
    suites_frame,
)
from web.exports.response import CSV_RESPONSES, csv_response
from web.exports.scores import score_csv
from web.exports.spans import span_download
from web.exports.trace_scores import COLUMNS as TRACE_SCORES_COLUMNS
from web.exports.trace_scores import trace_scores_frame
from web.exports.traces import trace_download
from web.filters import TraceFilterParams, trace_selection
from web.params import BadParameter, RowId, time_ns
from web.score_view import score_panel

router = APIRouter()

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")


@router.get("/api/traces.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def api_traces_csv(
    request: Request, params: Annotated[TraceFilterParams, Query()]
) -> StreamingResponse:
    """Every trace that ``/api/traces`` selects with these filters, in its order, as CSV."""
    try:
        selection = trace_selection(params)
    except BadParameter as error:
        raise HTTPException(400, str(error)) from None
    chunks = trace_download(request.state.engine, selection, request.state.export_worker)
    return csv_response(chunks, filename("traces", params.project))


class SpanFilterParams(BaseModel):
    """Which spans: all of them, or those of a project, a trace, a kind, a model, a time."""

    project: str | None = Field(None, max_length=200, description="Project name.")
    trace_id: str | None = Field(None, description="32 hex characters: one trace's spans.")
    kind: SpanKind | None = Field(None, description="Canonical span kind (llm, tool, ...).")
    model: str | None = Field(None, max_length=500, description="The model that served it.")
    since: str | None = Field(None, description="Start at or after: ISO 8601, ns or an age.")
    until: str | None = Field(None, description="Start at or before (same forms).")


def span_selection(params: SpanFilterParams) -> SpanFilter:
    """The store's filter; a bad id or time is a :class:`BadParameter` naming it."""
    if params.trace_id is not None and not _TRACE_ID.match(params.trace_id):
        raise BadParameter("trace_id", "must be 32 hexadecimal characters")
    return SpanFilter(
        project=params.project,
        trace_id=None if params.trace_id is None else params.trace_id.lower(),
        kind=None if params.kind is None else params.kind.value,
        model=params.model,
        start_after_ns=time_ns("since", params.since),
        start_before_ns=time_ns("until", params.until),
    )


@router.get("/api/spans.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def api_spans_csv(
    request: Request, params: Annotated[SpanFilterParams, Query()]
) -> StreamingResponse:
    """Every selected span, in the order stored, as CSV."""
    try:
        selection = span_selection(params)
    except BadParameter as error:
        raise HTTPException(400, str(error)) from None
    qualifier = params.trace_id or params.project
    chunks = span_download(request.state.engine, selection, request.state.export_worker)
    return csv_response(chunks, filename("spans", qualifier))


@router.get(
    "/api/eval-runs/{run_id}/scores.csv", response_class=StreamingResponse, responses=CSV_RESPONSES
)
def api_run_scores_csv(
    request: Request,
    run_id: RowId,
    evaluator: str | None = Query(None, max_length=200, description="One evaluator's scores."),
    failed: bool = Query(False, description="Only verdicts that did not pass."),
) -> StreamingResponse:
    """Every score of the run, in the order of ``/api/eval-runs/{id}/scores``, as CSV."""
    # Its own short session: a request-scoped one could stay open while the file streams.
    with Session(request.state.engine) as session:
        record = _found_run(session, run_id)
    chunks = score_csv(
        request.state.engine,
        run_id,
        record.project,
        evaluator=evaluator or None,
        failed_only=failed,
    )
    return csv_response(chunks, filename("scores", f"run-{run_id}"))


@router.get(
    "/api/eval-runs/{run_id}/summary.csv", response_class=StreamingResponse, responses=CSV_RESPONSES
)
def api_run_summary_csv(request: Request, run_id: RowId) -> StreamingResponse:
    """The run's figures per evaluator, as the run page's summary table shows them; a
    run still running has a header only."""
    with Session(request.state.engine) as session:
        record = _found_run(session, run_id)
    frame = run_summary_frame(record.run, record.suite_name, record.project)
    return csv_response(frame_csv(frame, SUMMARY_COLUMNS), filename("summary", f"run-{run_id}"))


@router.get(
    "/api/suites/{suite_id}/runs.csv", response_class=StreamingResponse, responses=CSV_RESPONSES
)
def api_suite_runs_csv(request: Request, suite_id: RowId) -> StreamingResponse:
    """Every run of the suite, newest first, as its page's runs table shows them."""
    with Session(request.state.engine) as session:
        chunks = suite_runs_csv(session, suite_id)
    return csv_response(chunks, filename("runs", f"suite-{suite_id}"))


def suite_runs_csv(session: Session, suite_id: int) -> Iterator[bytes]:
    """Read whole before the first byte (a few hundred runs at most a year)."""
    record = eval_reads.get_suite(session, suite_id)
    if record is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    runs, cursor = [], None
    while True:
        page = eval_reads.suite_runs(session, suite_id, limit=1000, cursor=cursor)
        runs += page.runs
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return frame_csv(runs_frame(suite_id, record.suite.name, runs), RUNS_COLUMNS)


@router.get("/api/suites.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def api_suites_csv(
    request: Request,
    project: str | None = Query(None, max_length=200, description="Omit for every project."),
) -> StreamingResponse:
    """The suites with their latest run, as the evals page lists them."""
    with Session(request.state.engine) as session:
        chunks = suites_csv(session, project)
    return csv_response(chunks, filename("suites", project))


def suites_csv(session: Session, project: str | None) -> Iterator[bytes]:
    found = None
    if project is not None:
        found = project_id(session.connection(), project)
        if found is None:
            raise HTTPException(404, f"no project named {project!r}")
    return frame_csv(suites_frame(eval_reads.list_suites(session, found)), SUITES_COLUMNS)


@router.get(
    "/api/traces/{trace_id}/scores.csv", response_class=StreamingResponse, responses=CSV_RESPONSES
)
def api_trace_scores_csv(
    request: Request,
    trace_id: str,
    project: str = Query("default", max_length=200, description="The trace's project."),
) -> StreamingResponse:
    """The trace page's Scores table: its newest 500 scores, by evaluator, the current
    ones of each first (``web.exports.trace_scores``)."""
    with Session(request.state.engine) as session:
        chunks = trace_scores_csv(session, trace_id, project)
    return csv_response(chunks, filename("trace-scores", trace_id))


def trace_scores_csv(session: Session, trace_id: str, project: str) -> Iterator[bytes]:
    if not _TRACE_ID.match(trace_id):
        raise HTTPException(400, "trace_id must be 32 hexadecimal characters")
    found = project_id(session.connection(), project)
    if found is None:
        raise HTTPException(404, f"no project named {project!r}")
    panel = score_panel(trace_scores(session.connection(), found, trace_id.lower()))
    return frame_csv(trace_scores_frame(trace_id.lower(), panel), TRACE_SCORES_COLUMNS)


def _found_run(session: Session, run_id: int) -> eval_reads.RunRecord:
    record = eval_reads.get_run(session, run_id)
    if record is None:
        raise HTTPException(404, f"no eval run {run_id}")
    return record
