"""Drift as JSON: a current cohort against a baseline cohort (``web/drift_params.py``).

GET /api/drift?project=&agent=&version=&baseline_version=   the report
    (``evals/drift/report.py``): per metric both cohorts' summaries, the test's
    statistic, p-value or divergence, the verdict and the limits it was held to
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query
from starlette.responses import Response

from web.deps import DbSession
from web.drift_params import DriftParams, DriftQueryError, drift_report

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
