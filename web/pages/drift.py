"""``GET /drift``: a current cohort against a baseline cohort, metric by metric.

The form names the current cohort (agent, version, a time window) and the baseline (a
version, a window, or the version marked known-good); the query string is
``/api/drift``'s, so a report is a URL to share and its JSON twin is one click away.
Without any field the page is the form alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from fastapi.routing import APIRouter
from pydantic import ValidationError
from starlette.responses import HTMLResponse

from store.projects import project_id
from store.queries import filter_choices
from web.deps import DbSession
from web.drift_params import DriftParams, DriftQueryError, drift_report
from web.drift_view import DriftView, drift_view
from web.pages.context import page_project
from web.pages.overview import version_key
from web.templating import query_string, render

router = APIRouter()

FIELDS = (
    "agent",
    "version",
    "since",
    "until",
    "baseline_version",
    "baseline_since",
    "baseline_until",
    "baseline_known_good",
)


@dataclass(frozen=True, slots=True)
class DriftPage:
    """What ``drift.html`` shows: the form as filled, and the report once asked for."""

    form: dict[str, str]
    view: DriftView | None = None
    api_link: str | None = None
    agents: list[str] = field(default_factory=list)  # datalist suggestions
    versions: list[str] = field(default_factory=list)

    @property
    def csv_link(self) -> str | None:
        """The report shown, one row per metric (``/api/drift.csv``)."""
        return (
            None
            if self.api_link is None
            else self.api_link.replace("/api/drift", "/api/drift.csv", 1)
        )


@router.get("/drift", response_class=HTMLResponse)
def drift_page(request: Request, session: DbSession) -> HTMLResponse:
    query = request.query_params
    chosen = page_project(session, query.get("project") or None)
    # An HTML form sends every field; an empty one means "not given".
    given = {key: value for key, value in query.items() if value.strip() and key != "project"}
    page = DriftPage({name: given.get(name, "") for name in FIELDS})
    pid = project_id(session.connection(), chosen.name) if chosen.name else None
    if pid is not None:
        choices = filter_choices(session, pid)
        versions = sorted({version for _, version in choices.versions}, key=version_key)
        page = DriftPage(page.form, agents=choices.agents, versions=versions)
        if given:
            params = _params({"project": chosen.name, **given}, query.getlist("metrics"))
            try:
                report = drift_report(session, params)
            except DriftQueryError as error:
                raise HTTPException(400, str(error)) from None
            link = "/api/drift" + query_string({"project": chosen.name, **given})
            page = DriftPage(page.form, drift_view(report), link, page.agents, page.versions)
    return render(request, "drift.html", {"project": chosen, "page": page})


def _params(given: dict[str, str], metrics: list[str]) -> DriftParams:
    try:
        return DriftParams.model_validate({**given, "metrics": metrics or None})
    except ValidationError as error:
        problem = error.errors()[0]
        name = ".".join(str(part) for part in problem["loc"]) or "query"
        raise HTTPException(400, f"{name}: {problem['msg']}") from None
