"""``/settings/budgets``: a project's cost budgets, where each stands, and a form to add one.

GET  /settings/budgets?project=      the budgets with their status, the add form
POST /settings/budgets               add (or replace) one from the form: 303 back to
                                     the page; 422 with the form and what is wrong
POST /settings/budgets/{id}/delete   delete one: 303 back to its project's page

A budget is checked by ``BudgetIn``, as ``POST /api/budgets`` checks it; the figures
are ``store/analytics/budgets.py``'s, as the overview shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from store.analytics.budgets import BudgetStatus, budget_status
from store.budgets import add_budget, budget, delete_budget
from store.models import BUDGET_PERIODS, DEFAULT_PROJECT, Project
from store.projects import project_id
from store.queries import filter_choices
from web.access import allow
from web.api_budgets import BudgetIn
from web.deps import DbSession
from web.forms import Refused, form_reader, validated
from web.origin import same_origin
from web.pages.context import PageProject, form_project, page_project
from web.params import RowId
from web.templating import query_string, render

router = APIRouter()

MAX_FORM_BYTES = 4 * 1024  # four short fields, percent-encoded
LABELS = {"project": "Project", "agent": "Agent", "period": "Period", "limit_usd": "Limit"}


@dataclass(frozen=True, slots=True)
class BudgetsView:
    """What ``settings_budgets.html`` shows."""

    project: str  # whose budgets: the page's project, or ``default`` before there is one
    budgets: list[BudgetStatus]  # as of now
    agents: list[str]  # the project's agents, suggested by the form
    form: dict[str, str] = field(default_factory=dict)  # the add form: as sent, on error
    problems: list[str] = field(default_factory=list)  # why the sent budget was refused
    invalid: frozenset[str] = frozenset()  # the fields the problems name


posted_form = form_reader(MAX_FORM_BYTES, fields=10)


@router.get("/settings/budgets", response_class=HTMLResponse)
def budgets_page(
    request: Request, session: DbSession, project: str | None = Query(None, max_length=200)
) -> HTMLResponse:
    return _page(request, session, page_project(session, project or None))


@router.post("/settings/budgets", dependencies=[Depends(same_origin)])
def add(
    request: Request, session: DbSession, form: Annotated[dict[str, str], Depends(posted_form)]
) -> Response:
    # An empty agent is the whole project; other empty fields are missing.
    new = validated(BudgetIn, form, LABELS)
    if isinstance(new, Refused):
        chosen = form_project(session, new.form["project"])
        return _page(
            request, session, chosen, 422, form=new.form, problems=new.problems, invalid=new.invalid
        )
    allow(request, new.project, "admin")
    with request.state.engine.begin() as connection:
        add_budget(connection, new.project, new.agent, new.period, new.limit_usd)
    return RedirectResponse(_here(new.project), status_code=303)


@router.post("/settings/budgets/{budget_id}/delete", dependencies=[Depends(same_origin)])
def delete(session: DbSession, budget_id: RowId) -> Response:
    stored = budget(session, budget_id)
    if stored is None:
        raise HTTPException(404, f"no budget {budget_id}")
    project = session.get_one(Project, stored.project_id).name
    delete_budget(session.connection(), budget_id)
    session.commit()
    return RedirectResponse(_here(project), status_code=303)


def _page(
    request: Request,
    session: Session,
    chosen: PageProject,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    name = chosen.name or DEFAULT_PROJECT
    found = project_id(session.connection(), name)
    statuses = budget_status(session, found, datetime.now(UTC)) if found is not None else []
    agents = filter_choices(session, found).agents if found is not None else []
    view = BudgetsView(name, statuses, agents, **extra)
    context = {"project": chosen, "view": view, "periods": BUDGET_PERIODS}
    return render(request, "settings_budgets.html", context, status_code=status_code)


def _here(project: str) -> str:
    return "/settings/budgets" + query_string({"project": project})
