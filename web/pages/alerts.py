"""``/alerts``: a project's open and acknowledged alerts, and its alert rules.

GET  /alerts?project=                 the alerts (open first), the rules, the add form
POST /alerts/{id}/acknowledge         acknowledge one: 303 back to its project's page
POST /alerts/rules                    add a rule from the form: 303 back; 422 with the
                                      form and what is wrong
POST /alerts/rules/{id}/delete        delete one (its alerts stay): 303 back

A rule is checked by ``RuleIn`` and its webhook's destination, as
``POST /api/alert-rules`` checks them. Rule names,
titles and errors are shown as text: a rule's name is anyone's, and a webhook's error
quotes whatever the receiver answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from store.alert_rules import RuleError, StoredRule, add_rule, delete_rule, watchable_suites
from store.alert_rules import rule as stored_rule
from store.alert_rules import rules as stored_rules
from store.alerts import AlertRecord, acknowledge, alert, alerts
from store.models import DEFAULT_PROJECT, Project
from store.models.alert import RULE_KINDS, RUN_RULE_KINDS
from store.projects import project_id
from web.access import allow
from web.api_alerts import RuleIn, webhook_origin, webhook_refusal
from web.deps import DbSession
from web.forms import Refused, form_reader, validated
from web.origin import same_origin
from web.pages.context import PageProject, form_project, page_project
from web.params import RowId
from web.templating import EMPTY, query_string, render

router = APIRouter()

MAX_FORM_BYTES = 8 * 1024  # a name, a kind, a suite, a limit and a URL, percent-encoded
SHOWN = 100  # of each list
LABELS = {
    "project": "Project", "name": "Name", "kind": "Kind", "suite_id": "Suite",
    "limit": "Limit", "webhook_url": "Webhook URL",
}  # fmt: skip
FIGURES_SHOWN = 6


@dataclass(frozen=True, slots=True)
class AlertsView:
    """What ``alerts.html`` shows."""

    project: str  # the page's project, or ``default`` before there is one
    open: list[AlertRecord]  # newest first
    acknowledged: list[AlertRecord]  # newest first
    rules: list[StoredRule]
    suites: list[tuple[int, str]]  # (id, name): what a run rule may watch
    form: dict[str, str] = field(default_factory=dict)  # the add form: as sent, on error
    problems: list[str] = field(default_factory=list)  # why the sent rule was refused
    invalid: frozenset[str] = frozenset()  # the fields the problems name


posted_form = form_reader(MAX_FORM_BYTES, fields=10)


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, session: DbSession, project: str | None = Query(None, max_length=200)
) -> HTMLResponse:
    return _page(request, session, page_project(session, project or None))


@router.post("/alerts/{alert_id}/acknowledge", dependencies=[Depends(same_origin)])
def acknowledge_alert(session: DbSession, alert_id: RowId) -> Response:
    found = alert(session.connection(), alert_id)
    if found is None:
        raise HTTPException(404, f"no alert {alert_id}")
    acknowledge(session.connection(), alert_id, datetime.now(UTC))
    session.commit()
    return RedirectResponse(_here(found.project), status_code=303)


@router.post("/alerts/rules", dependencies=[Depends(same_origin)])
def add(
    request: Request, session: DbSession, form: Annotated[dict[str, str], Depends(posted_form)]
) -> Response:
    new = validated(RuleIn, form, LABELS)
    if not isinstance(new, Refused):
        allow(request, new.project, "write")
    problem = None if isinstance(new, Refused) else webhook_refusal(request, new.webhook_url)
    if problem:
        sent = {name: form.get(name, "").strip() for name in RuleIn.model_fields}
        new = Refused(sent, [f"{LABELS['webhook_url']}: {problem}"], frozenset({"webhook_url"}))
    if not isinstance(new, Refused):
        try:
            with request.state.engine.begin() as connection:
                add_rule(connection, new.project, new.new_rule(), datetime.now(UTC))
        except RuleError as error:
            sent = {name: form.get(name, "").strip() for name in RuleIn.model_fields}
            new = Refused(sent, [str(error)], frozenset({"suite_id"}))
    if isinstance(new, Refused):
        chosen = form_project(session, new.form["project"])
        return _page(
            request, session, chosen, 422, form=new.form, problems=new.problems, invalid=new.invalid
        )
    return RedirectResponse(_here(new.project), status_code=303)


@router.post("/alerts/rules/{rule_id}/delete", dependencies=[Depends(same_origin)])
def delete(session: DbSession, rule_id: RowId) -> Response:
    stored = stored_rule(session.connection(), rule_id)
    if stored is None:
        raise HTTPException(404, f"no alert rule {rule_id}")
    project = session.get_one(Project, stored.project_id).name
    delete_rule(session.connection(), rule_id)
    session.commit()
    return RedirectResponse(_here(project), status_code=303)


def figures_summary(figures: dict[str, Any]) -> list[tuple[str, str]]:
    """The alert's figures as short (name, value) pairs: numbers rounded, lists counted
    or named, nested objects left to the API."""
    shown = []
    for name, value in figures.items():
        if isinstance(value, bool) or value is None or isinstance(value, int | str):
            text = EMPTY if value is None else str(value)
        elif isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            text = ", ".join(value)
        elif isinstance(value, list):
            text = f"{len(value)}"
        else:
            continue
        shown.append((name.replace("_", " "), text[:200]))
    return shown[:FIGURES_SHOWN]


def _page(
    request: Request,
    session: Session,
    chosen: PageProject,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    name = chosen.name or DEFAULT_PROJECT
    connection = session.connection()
    found = project_id(connection, name)
    if found is None:
        view = AlertsView(name, [], [], [], [], **extra)
    else:
        view = AlertsView(
            name,
            alerts(connection, found, "open", SHOWN),
            alerts(connection, found, "acknowledged", SHOWN),
            stored_rules(connection, found),
            watchable_suites(connection, found),
            **extra,
        )
    context = {
        "project": chosen,
        "view": view,
        "kinds": RULE_KINDS,
        "run_kinds": RUN_RULE_KINDS,
        "figures_summary": figures_summary,
        "webhook_origin": webhook_origin,
    }
    return render(request, "alerts.html", context, status_code=status_code)


def _here(project: str) -> str:
    return "/alerts" + query_string({"project": project})
