"""Drift as JSON: a current cohort against a baseline cohort (``web/drift_params.py``).

GET /api/drift?project=&agent=&version=&baseline_version=   the report
    (``evals/drift/report.py``): per metric both cohorts' summaries, the test's
    statistic, p-value or divergence, the verdict and the limits it was held to
GET /api/drift.csv?...                the same report, one row per metric tested
GET /api/suites/{id}/drift?limit=    drift across the suite's runs, oldest first: per
    run the metrics drifted, each metric's verdict and size (``web/drift_series.py``)
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query
from starlette.responses import Response, StreamingResponse

from store import eval_reads
from web.deps import DbSession
from web.drift_params import DriftParams, DriftQueryError, drift_report
from web.drift_series import drift_series
from web.exports.csv_writer import filename
from web.exports.reports import DRIFT_COLUMNS, drift_frame, frame_csv
from web.exports.response import CSV_RESPONSES, csv_response
from web.params import RowId

router = APIRouter()


@router.get("/api/drift")
def api_drift(session: DbSession, params: Annotated[DriftParams, Query()]) -> Response:
    """The drift report; a query it cannot answer (no such project, no baseline, a bad
    time or metric) is a 400 that names the parameter."""
    try:
        report = drift_report(session, params)
    except DriftQueryError as error:
        raise HTTPException(400, str(error)) from None
    return Response(orjson.dumps(report), media_type="application/json")


@router.get("/api/drift.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def api_drift_csv(session: DbSession, params: Annotated[DriftParams, Query()]) -> Response:
    """The drift report as CSV (``web.exports.reports.DRIFT_COLUMNS``); 400 as above."""
    try:
        report = drift_report(session, params)
    except DriftQueryError as error:
        raise HTTPException(400, str(error)) from None
    name = filename("drift", params.project)
    return csv_response(frame_csv(drift_frame(report), DRIFT_COLUMNS), name)


@router.get("/api/suites/{suite_id}/drift")
def suite_drift(
    session: DbSession, suite_id: RowId, limit: int = Query(50, ge=1, le=500)
) -> Response:
    """The drift reports of the suite's newest ``limit`` runs, as a series."""
    if eval_reads.get_suite(session, suite_id) is None:
        raise HTTPException(404, f"no eval suite {suite_id}")
    runs = eval_reads.suite_runs(session, suite_id, limit=limit).runs
    series = drift_series(runs)
    body = {
        "suite_id": suite_id,
        "metrics": series.metrics if series else [],
        "runs": [point.as_json() for point in series.points] if series else [],
    }
    return Response(orjson.dumps(body), media_type="application/json")
