"""The small JSON lists as CSV, one route beside each (``web/exports/listing.py``):

GET /api/alerts.csv?project=&state=     the alerts page's alerts (at most 500, newest first)
GET /api/alert-rules.csv?project=       its rules
GET /api/schedules.csv?project=         the schedules page's suites and their next runs
GET /api/budgets.csv?project=           the budgets with their status this period
GET /api/prices.csv?project=            the project's custom prices
GET /api/runaways.csv?project=          runaway traces (at most 500)
GET /api/known-good.csv?project=        the known-good versions

Each calls its JSON twin's handler, so the rows are the JSON items, field for field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from web import api_alerts, api_budgets, api_known_good, api_prices, api_runaways, api_schedules
from web.deps import DbSession
from web.eval_schemas import ScheduleOut
from web.exports.csv_writer import filename
from web.exports.listing import models_csv
from web.exports.response import CSV_RESPONSES, csv_response

router = APIRouter()
Project = Annotated[str, Query(max_length=200)]
CSV = {"response_class": StreamingResponse, "responses": CSV_RESPONSES}


@router.get("/api/alerts.csv", **CSV)
def alerts_csv(
    session: DbSession, project: Project = "default", state: api_alerts.State | None = None
) -> StreamingResponse:
    found = api_alerts.list_alerts(session, project, state, limit=500).alerts
    return csv_response(models_csv(found, api_alerts.AlertOut), filename("alerts", project))


@router.get("/api/alert-rules.csv", **CSV)
def alert_rules_csv(session: DbSession, project: Project = "default") -> StreamingResponse:
    found = api_alerts.list_rules(session, project).rules
    return csv_response(models_csv(found, api_alerts.RuleOut), filename("alert-rules", project))


@router.get("/api/schedules.csv", **CSV)
def schedules_csv(
    request: Request, session: DbSession, project: str | None = Query(None, max_length=200)
) -> StreamingResponse:
    found = api_schedules.list_schedules(request, session, project).schedules
    return csv_response(models_csv(found, ScheduleOut), filename("schedules", project))


@router.get("/api/budgets.csv", **CSV)
def budgets_csv(session: DbSession, project: Project = "default") -> StreamingResponse:
    found = api_budgets.list_budgets(session, project).budgets
    return csv_response(models_csv(found, api_budgets.BudgetOut), filename("budgets", project))


@router.get("/api/prices.csv", **CSV)
def prices_csv(session: DbSession, project: Project = "default") -> StreamingResponse:
    found = api_prices.list_prices(session, project).prices
    return csv_response(models_csv(found, api_prices.PriceOut), filename("prices", project))


@router.get("/api/runaways.csv", **CSV)
def runaways_csv(session: DbSession, project: Project = "default") -> StreamingResponse:
    found = api_runaways.list_runaways(session, project, limit=500).runaways
    return csv_response(models_csv(found, api_runaways.RunawayOut), filename("runaways", project))


@router.get("/api/known-good.csv", **CSV)
def known_good_csv(session: DbSession, project: Project = "default") -> StreamingResponse:
    found = api_known_good.list_marks(session, project).known_good
    model = api_known_good.KnownGoodOut
    return csv_response(models_csv(found, model), filename("known-good", project))
