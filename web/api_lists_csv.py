"""The small JSON lists as CSV, one route beside each (``web/exports/listing.py``):

GET /api/alerts.csv?project=&state=       the alerts page's alerts (at most 500, newest first)
GET /api/alert-rules.csv?project=         its rules
GET /api/schedules.csv?project=           the schedules page's suites and their next runs
GET /api/budgets.csv?project=             the budgets with their status this period
GET /api/prices.csv?project=              the project's custom prices
GET /api/runaways.csv?project=&since=&limit=   runaway traces (at most 500; the overview
                                          links the last 7 days, at most 10, as it shows)
GET /api/known-good.csv?project=          the known-good versions
GET /api/suites/{id}/jobs.csv?limit=      a suite's jobs, newest first (the suite page
                                          links its newest 20, as it shows)

Each calls its JSON twin's handler, so the rows are the JSON items, field for field.
``reasonlens export`` reads the same lists through :data:`LISTS`, with the same
parameter models, so a file written there equals the download.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import StreamingResponse

from web import (
    api_alerts,
    api_budgets,
    api_known_good,
    api_prices,
    api_runaways,
    api_schedules,
)
from web.deps import DbSession
from web.eval_schemas import JobOut, ScheduleOut
from web.exports.csv_writer import filename
from web.exports.listing import models_csv
from web.exports.response import CSV_RESPONSES, csv_response
from web.params import RowId

router = APIRouter()
CSV = {"response_class": StreamingResponse, "responses": CSV_RESPONSES}


class ProjectParams(BaseModel):
    project: str = Field("default", max_length=200, description="Project name.")


class AlertParams(ProjectParams):
    state: api_alerts.State | None = Field(None, description="open or acknowledged.")


class RunawayParams(ProjectParams):
    since: str | None = Field(None, description="Flagged at or after (ISO 8601, ns, an age).")
    limit: int = Field(500, ge=1, le=500, description="The newest flags, at most.")


class AnyProjectParams(BaseModel):
    project: str | None = Field(None, max_length=200, description="Omit for every project.")


class JobParams(BaseModel):
    limit: int = Field(50, ge=1, le=500, description="The newest jobs, at most.")


class SuiteJobParams(JobParams):
    """``reasonlens export jobs``: the route's path id as a parameter."""

    suite_id: int = Field(ge=1, le=2**63 - 1)


@dataclass(frozen=True, slots=True)
class ListExport:
    """One list: its parameters, the JSON item model (the columns) and its items."""

    params: type[BaseModel]
    model: type[BaseModel]
    items: Callable[[Session, sa.Engine, Any], Sequence[BaseModel]]

    def chunks(self, session: Session, engine: sa.Engine, params: BaseModel) -> Iterator[bytes]:
        return models_csv(self.items(session, engine, params), self.model)


def _alerts(session: Session, _: sa.Engine, p: AlertParams) -> Sequence[BaseModel]:
    return api_alerts.list_alerts(session, p.project, p.state, limit=500).alerts


def _rules(session: Session, _: sa.Engine, p: ProjectParams) -> Sequence[BaseModel]:
    return api_alerts.list_rules(session, p.project).rules


def _schedules(session: Session, engine: sa.Engine, p: AnyProjectParams) -> Sequence[BaseModel]:
    return api_schedules.schedule_list(engine, session, p.project).schedules


def _budgets(session: Session, _: sa.Engine, p: ProjectParams) -> Sequence[BaseModel]:
    return api_budgets.list_budgets(session, p.project).budgets


def _prices(session: Session, _: sa.Engine, p: ProjectParams) -> Sequence[BaseModel]:
    return api_prices.list_prices(session, p.project).prices


def _runaways(session: Session, _: sa.Engine, p: RunawayParams) -> Sequence[BaseModel]:
    return api_runaways.list_runaways(session, p.project, p.limit, p.since).runaways


def _known_good(session: Session, _: sa.Engine, p: ProjectParams) -> Sequence[BaseModel]:
    return api_known_good.list_marks(session, p.project).known_good


def _jobs(session: Session, _: sa.Engine, p: SuiteJobParams) -> Sequence[BaseModel]:
    return api_schedules.suite_jobs(session, p.suite_id, p.limit).jobs


# By the CLI's KIND, which is also the file name's kind.
LISTS: dict[str, ListExport] = {
    "alerts": ListExport(AlertParams, api_alerts.AlertOut, _alerts),
    "alert-rules": ListExport(ProjectParams, api_alerts.RuleOut, _rules),
    "schedules": ListExport(AnyProjectParams, ScheduleOut, _schedules),
    "budgets": ListExport(ProjectParams, api_budgets.BudgetOut, _budgets),
    "prices": ListExport(ProjectParams, api_prices.PriceOut, _prices),
    "runaways": ListExport(RunawayParams, api_runaways.RunawayOut, _runaways),
    "known-good": ListExport(ProjectParams, api_known_good.KnownGoodOut, _known_good),
    "jobs": ListExport(SuiteJobParams, JobOut, _jobs),
}


def _download(
    kind: str, request: Request, session: DbSession, params: BaseModel, qualifier: str | None
) -> StreamingResponse:
    chunks = LISTS[kind].chunks(session, request.state.engine, params)
    return csv_response(chunks, filename(kind, qualifier))


@router.get("/api/alerts.csv", **CSV)
def alerts_csv(
    request: Request, session: DbSession, params: Annotated[AlertParams, Query()]
) -> StreamingResponse:
    return _download("alerts", request, session, params, params.project)


@router.get("/api/alert-rules.csv", **CSV)
def alert_rules_csv(
    request: Request, session: DbSession, params: Annotated[ProjectParams, Query()]
) -> StreamingResponse:
    return _download("alert-rules", request, session, params, params.project)


@router.get("/api/schedules.csv", **CSV)
def schedules_csv(
    request: Request, session: DbSession, params: Annotated[AnyProjectParams, Query()]
) -> StreamingResponse:
    return _download("schedules", request, session, params, params.project)


@router.get("/api/budgets.csv", **CSV)
def budgets_csv(
    request: Request, session: DbSession, params: Annotated[ProjectParams, Query()]
) -> StreamingResponse:
    return _download("budgets", request, session, params, params.project)


@router.get("/api/prices.csv", **CSV)
def prices_csv(
    request: Request, session: DbSession, params: Annotated[ProjectParams, Query()]
) -> StreamingResponse:
    return _download("prices", request, session, params, params.project)


@router.get("/api/runaways.csv", **CSV)
def runaways_csv(
    request: Request, session: DbSession, params: Annotated[RunawayParams, Query()]
) -> StreamingResponse:
    return _download("runaways", request, session, params, params.project)


@router.get("/api/known-good.csv", **CSV)
def known_good_csv(
    request: Request, session: DbSession, params: Annotated[ProjectParams, Query()]
) -> StreamingResponse:
    return _download("known-good", request, session, params, params.project)


@router.get("/api/suites/{suite_id}/jobs.csv", **CSV)
def suite_jobs_csv(
    request: Request, session: DbSession, suite_id: RowId, params: Annotated[JobParams, Query()]
) -> StreamingResponse:
    """The suite's jobs, newest first, as ``GET /api/suites/{id}/jobs`` lists them."""
    full = SuiteJobParams(suite_id=suite_id, limit=params.limit)
    return _download("jobs", request, session, full, f"suite-{suite_id}")
