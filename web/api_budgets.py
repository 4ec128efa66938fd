"""Cost budgets per project or agent, with where each stands now.

POST   /api/budgets               a budget (JSON body): 201; replaces the project's
                                  budget of the same agent and period
GET    /api/budgets?project=      the project's budgets, each with its current status
DELETE /api/budgets/{id}          204; 404 when there is none

The status (spent this period, burn rate, forecast, state) is computed on each read,
as of the server's clock: ``store/analytics/budgets.py`` has the rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.analytics.budgets import BudgetStatus, budget_status
from store.budgets import add_budget, delete_budget
from store.projects import project_id, project_name_problem
from web.access import allow
from web.deps import DbSession
from web.origin import same_origin
from web.params import RowId
from web.request_body import json_body_doc, json_model

router = APIRouter()

MAX_BUDGET_BYTES = 4 * 1024
MAX_LIMIT_USD = 1e9  # a typo's worth of zeros past this is refused, not stored
Period = Literal["trace", "day", "month"]  # store.models.BUDGET_PERIODS
State = Literal["ok", "forecast_over", "over"]


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: str = Field("default", max_length=200)
    agent: str | None = Field(
        None, min_length=1, max_length=200, description="An agent name; null: the whole project."
    )
    period: Period = Field(description="trace (each trace), day or month (UTC).")
    limit_usd: float = Field(gt=0, le=MAX_LIMIT_USD, allow_inf_nan=False, description="USD.")

    @field_validator("project", "agent")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value

    @field_validator("project")
    @classmethod
    def _project_name(cls, value: str) -> str:
        problem = project_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class BudgetStatusOut(BaseModel):
    period_start: datetime
    period_end: datetime
    spent_usd: float | None = Field(
        description="Known cost so far this period (a floor when unpriced > 0); for a trace "
        "budget the month's most expensive trace, null when none was priced."
    )
    traces: int = Field(description="Traces started in the period.")
    unpriced: int = Field(description="Of which with a model call no price covers.")
    burn_rate_usd_per_day: float = Field(description="Over the trailing 7 days.")
    forecast_usd: float | None = Field(description="At the end of the period; null: trace.")
    state: State
    over_limit_traces: int | None = Field(description="Trace budgets: traces over the limit.")
    top_trace_id: str | None = Field(description="Trace budgets: the most expensive trace.")


class BudgetOut(BaseModel):
    id: int
    project: str
    agent: str | None
    scope: Literal["project", "agent"]
    period: Period
    limit_usd: float
    status: BudgetStatusOut


class BudgetList(BaseModel):
    budgets: list[BudgetOut]


async def budget_body(request: Request) -> BudgetIn:
    return await json_model(request, BudgetIn, MAX_BUDGET_BYTES, "the budget")


@router.post(
    "/api/budgets",
    response_model=BudgetOut,
    status_code=201,
    dependencies=[Depends(same_origin)],
    openapi_extra=json_body_doc(BudgetIn),
)
def create_budget(
    request: Request, session: DbSession, budget: Annotated[BudgetIn, Depends(budget_body)]
) -> BudgetOut:
    """A spending limit for a project or one of its agents, per trace, UTC day or month."""
    allow(request, budget.project, "admin")
    with request.state.engine.begin() as connection:
        stored_id = add_budget(
            connection, budget.project, budget.agent, budget.period, budget.limit_usd
        )
    found = project_id(session.connection(), budget.project)
    assert found is not None  # add_budget created it
    (status,) = [s for s in budget_status(session, found, datetime.now(UTC)) if s.id == stored_id]
    return budget_out(status, budget.project)


@router.get("/api/budgets", response_model=BudgetList)
def list_budgets(
    session: DbSession, project: Annotated[str, Query(max_length=200)] = "default"
) -> BudgetList:
    found = project_id(session.connection(), project)
    statuses = budget_status(session, found, datetime.now(UTC)) if found is not None else []
    return BudgetList(budgets=[budget_out(status, project) for status in statuses])


@router.delete("/api/budgets/{budget_id}", status_code=204, dependencies=[Depends(same_origin)])
def remove_budget(request: Request, budget_id: RowId) -> Response:
    with request.state.engine.begin() as connection:
        if not delete_budget(connection, budget_id):
            raise HTTPException(404, f"no budget {budget_id}")
    return Response(status_code=204)


def budget_out(status: BudgetStatus, project: str) -> BudgetOut:
    figures = {name: getattr(status, name) for name in BudgetStatusOut.model_fields}
    return BudgetOut(
        id=status.id,
        project=project,
        agent=status.agent,
        scope=cast(Literal["project", "agent"], status.scope),
        period=cast(Period, status.period),
        limit_usd=status.limit_usd,
        status=BudgetStatusOut(**figures),
    )
