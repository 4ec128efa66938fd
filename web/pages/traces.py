"""``GET /traces``: the trace table, filtered, sorted and paged like ``/api/traces``.

The query string is the filter: the form is ``method=get`` with the API's parameter
names, parsed by the same code (``web/filters.py``), so a URL can be shared, and its
CSV link (``/api/traces.csv``) exports exactly what the table selects. A value that
does not parse is answered with this page at 400, the form as the user typed it and
the parameter named, rather than with a bare error page that loses the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from store.models import Trace
from store.projects import project_id
from store.queries import FilterChoices, InvalidCursor, filter_choices
from web.deps import DbSession
from web.filters import TracePageParams, page_params, trace_page
from web.pages.context import PageProject, page_project
from web.params import BadParameter
from web.templating import query_string, render

router = APIRouter()

PARAMETERS = frozenset(TracePageParams.model_fields)
NO_CHOICES = FilterChoices([], [], [])


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    sort: str | None = None  # the ``sort`` value that orders by this column
    numeric: bool = False


COLUMNS = (
    Column("Started", "start_time"),
    Column("Trace"),
    Column("Status"),
    Column("Duration", "duration", numeric=True),
    Column("Spans · LLM · tool", "spans", numeric=True),
    Column("Tokens", "tokens", numeric=True),
    Column("Cost", "cost", numeric=True),
    Column("Input"),
)


@dataclass(frozen=True, slots=True)
class TracesView:
    """What ``traces.html`` shows."""

    # The query string as given, blank fields and unknown names dropped, ``project``
    # set: it refills the form and is the base of every link (sort, pages, CSV).
    form: dict[str, str]
    sort: str
    order: str
    traces: list[Trace] = field(default_factory=list)
    next_cursor: str | None = None
    error: BadParameter | None = None  # the value that could not be read (a 400)
    choices: FilterChoices = NO_CHOICES  # suggestions for agent, version and model

    def sort_link(self, column: Column) -> str:
        """Clicking the sorted column flips its order; another column starts descending."""
        order = "asc" if column.sort == self.sort and self.order == "desc" else "desc"
        return query_string(self.form, sort=column.sort, order=order, cursor=None)

    def aria_sort(self, column: Column) -> str | None:
        if column.sort != self.sort:
            return None
        return "descending" if self.order == "desc" else "ascending"

    @property
    def next_link(self) -> str | None:
        return (
            None if self.next_cursor is None else query_string(self.form, cursor=self.next_cursor)
        )

    @property
    def first_link(self) -> str | None:
        return query_string(self.form, cursor=None) if "cursor" in self.form else None

    @property
    def csv_link(self) -> str:
        """The same selection, every page of it."""
        return "/api/traces.csv" + query_string(self.form, cursor=None, limit=None)


@router.get("/traces", response_class=HTMLResponse)
def traces_page(request: Request, session: DbSession) -> HTMLResponse:
    given = request.query_params
    project = page_project(session, given.get("project") or None)
    form = {name: value for name, value in given.items() if name in PARAMETERS and value.strip()}
    if project.name is None:  # nothing stored yet
        return _render(request, project, TracesView(form, "start_time", "desc"))
    form["project"] = project.name
    sort, order = form.get("sort", "start_time"), form.get("order", "desc")
    view = TracesView(form, sort, order, choices=_choices(session, project.name))
    try:
        page = trace_page(session, page_params(form))
    except (BadParameter, InvalidCursor) as error:
        bad = error if isinstance(error, BadParameter) else BadParameter("cursor", str(error))
        return _render(request, project, replace(view, error=bad), status_code=400)
    traces = [record.trace for record in page.traces]
    return _render(request, project, replace(view, traces=traces, next_cursor=page.next_cursor))


def _choices(session: Session, project: str) -> FilterChoices:
    found = project_id(session.connection(), project)
    return NO_CHOICES if found is None else filter_choices(session, found)


def _render(
    request: Request, project: PageProject, view: TracesView, status_code: int = 200
) -> HTMLResponse:
    context = {"project": project, "view": view, "columns": COLUMNS}
    return render(request, "traces.html", context, status_code=status_code)
