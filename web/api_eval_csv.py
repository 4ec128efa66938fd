"""The eval pages' remaining tables as CSV (``web/exports/eval_tables.py``):

GET /api/eval-runs.csv?project=&limit=           the evals page's recent runs (20, as it
                                                 shows), a row per run and evaluator
GET /api/eval-runs/{id}/thresholds.csv           a run page's Thresholds table
GET /api/eval-runs/{id}/drift.csv                a run page's drift report (its drift
                                                 evaluator's), as ``/api/drift.csv``
GET /api/suites/{id}/drift.csv?limit=&cursor=    a suite page's drift over its runs: the
                                                 runs of the page (``cursor``), long form

Each builds its rows before the first byte, so a bad id is a 404, never a cut file;
``reasonlens export`` calls the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from store import eval_reads
from store.projects import project_id
from store.queries import InvalidCursor
from web import evals_view
from web.deps import DbSession
from web.drift_series import drift_series
from web.exports.csv_writer import filename
from web.exports.eval_tables import (
    DRIFT_SERIES_COLUMNS,
    THRESHOLDS_COLUMNS,
    drift_series_frame,
    recent_runs_frame,
    thresholds_frame,
)
from web.exports.reports import DRIFT_COLUMNS, RUNS_COLUMNS, drift_frame, frame_csv
from web.exports.response import CSV_RESPONSES, csv_response
from web.params import RowId

router = APIRouter()
CSV = {"response_class": StreamingResponse, "responses": CSV_RESPONSES}
RECENT_RUNS = 20  # as the evals page
SUITE_RUNS = 50  # as a suite page, and GET /api/suites/{id}/drift


class RecentRunsParams(BaseModel):
    project: str = Field("default", max_length=200, description="Project name.")
    limit: int = Field(RECENT_RUNS, ge=1, le=500, description="The newest runs, at most.")


class SuiteDriftParams(BaseModel):
    limit: int = Field(SUITE_RUNS, ge=1, le=500, description="Runs, newest first.")
    cursor: str | None = Field(None, max_length=200, description="An older page of runs.")


@router.get("/api/eval-runs.csv", **CSV)
def api_recent_runs_csv(
    session: DbSession, params: Annotated[RecentRunsParams, Query()]
) -> StreamingResponse:
    """The project's newest runs of every suite, as the evals page lists them."""
    chunks = recent_runs_csv(session, params)
    return csv_response(chunks, filename("eval-runs", params.project))


def recent_runs_csv(session: Session, params: RecentRunsParams) -> Iterator[bytes]:
    found = project_id(session.connection(), params.project)
    if found is None:
        raise HTTPException(404, f"no project named {params.project!r}")
    records = eval_reads.recent_runs(session, found, limit=params.limit)
    return frame_csv(recent_runs_frame(records), RUNS_COLUMNS)


@router.get("/api/eval-runs/{run_id}/thresholds.csv", **CSV)
def api_thresholds_csv(session: DbSession, run_id: RowId) -> StreamingResponse:
    """The run's threshold checks; a running run has a header only."""
    return csv_response(thresholds_csv(session, run_id), filename("thresholds", f"run-{run_id}"))


def thresholds_csv(session: Session, run_id: int) -> Iterator[bytes]:
    return frame_csv(thresholds_frame(_found_run(session, run_id).run), THRESHOLDS_COLUMNS)


@router.get("/api/eval-runs/{run_id}/drift.csv", **CSV)
def api_run_drift_csv(session: DbSession, run_id: RowId) -> StreamingResponse:
    """The drift report of the run's drift evaluator, a row per metric; 404 when the
    run has none (its suite has no drift evaluator, or it has not finished)."""
    return csv_response(run_drift_csv(session, run_id), filename("drift", f"run-{run_id}"))


def run_drift_csv(session: Session, run_id: int) -> Iterator[bytes]:
    figures = evals_view.evaluator_figures(_found_run(session, run_id).run)
    report = (figures.get("drift") or {}).get("extra")
    if not isinstance(report, dict) or "metrics" not in report:
        raise HTTPException(404, f"eval run {run_id} has no drift report")
    return frame_csv(drift_frame(report), DRIFT_COLUMNS)


@router.get("/api/suites/{suite_id}/drift.csv", **CSV)
def api_suite_drift_csv(
    session: DbSession, suite_id: RowId, params: Annotated[SuiteDriftParams, Query()]
) -> StreamingResponse:
    """The drift reports of the suite's newest ``limit`` runs (or the page ``cursor``
    names), oldest first, a row per run and metric."""
    chunks = suite_drift_csv(session, suite_id, params)
    return csv_response(chunks, filename("drift", f"suite-{suite_id}"))


def suite_drift_csv(session: Session, suite_id: int, params: SuiteDriftParams) -> Iterator[bytes]:
    if eval_reads.get_suite(session, suite_id) is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    try:
        page = eval_reads.suite_runs(
            session, suite_id, limit=params.limit, cursor=params.cursor or None
        )
    except InvalidCursor as error:
        raise HTTPException(400, f"cursor: {error}") from None
    frame = drift_series_frame(suite_id, drift_series(page.runs))
    return frame_csv(frame, DRIFT_SERIES_COLUMNS)


def _found_run(session: Session, run_id: int) -> eval_reads.RunRecord:
    record = eval_reads.get_run(session, run_id)
    if record is None:
        raise HTTPException(404, f"no eval run {run_id}")
    return record
