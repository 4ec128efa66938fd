"""``GET /compare``: two cohorts of traces side by side, with deltas and distributions.

A cohort is a trace filter with ``/api/traces``' names, prefixed ``a.`` or ``b.``::

    /compare?project=default&a.agent=support&a.agent_version=1.4
                            &b.agent=support&b.agent_version=1.5

so a comparison is a URL to share: two versions, two time windows
(``a.since=…&a.until=…``), a model against another, anything ``/traces`` can select.
A saved filter is any ``/traces`` URL or query string: pasted into ``a.from`` (or
``b.from``) it becomes that cohort's filters, and the page redirects to the expanded,
canonical URL (sort, order, limit and cursor are dropped: they do not change which
traces are selected). ``project`` is the page's project and each cohort's default.

Every number links to ``/traces`` with its cohort's filter (plus ``status``, ``sort`` or
``model`` where the number is about those), so the traces behind it are one click away.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from store import known_good
from store.analytics.compare import cohorts
from store.analytics.overview import latest_start_ns
from store.known_good import version_key
from store.projects import project_id
from store.queries import TraceFilter, filter_choices
from web.compare_view import Comparison, comparison
from web.deps import DbSession
from web.exports.csv_writer import filename
from web.exports.reports import COMPARE_COLUMNS, compare_frame, frame_csv
from web.exports.response import CSV_RESPONSES, csv_response
from web.filters import TraceFilterParams, trace_selection
from web.pages.context import PageProject, page_project
from web.pages.overview import HOUR_NS, iso_time
from web.params import BadParameter
from web.templating import query_string, render

router = APIRouter()

SIDES = ("a", "b")
# A cohort selects traces; how /traces sorts or pages them is not part of it.
NOT_FILTERS = frozenset({"sort", "order", "limit", "cursor"})
FILTERS = tuple(name for name in TraceFilterParams.model_fields if name not in NOT_FILTERS)
PASTE = "from"


@dataclass(frozen=True, slots=True)
class CohortQuery:
    """One side's filter: ``params`` in ``/traces`` names (project included), as given."""

    side: str
    params: dict[str, str]

    @property
    def label(self) -> str:
        """What a person calls this cohort: "support 1.5", else its filters."""
        shown = {k: v for k, v in self.params.items() if k != "project"}
        agent, version = shown.pop("agent", None), shown.pop("agent_version", None)
        words = [w for w in (agent, version) if w is not None]
        words += [f"{key}={value}" for key, value in shown.items()]
        return " ".join(words) or "all traces"

    def traces_link(self, **extra: Any) -> str:
        return "/traces" + query_string(self.params, **extra)


@dataclass(frozen=True, slots=True)
class CompareView:
    """What ``compare.html`` shows: the form, and the comparison once both sides are set."""

    form: dict[str, str]  # the a.* / b.* fields as given, to refill the form
    cohorts: tuple[CohortQuery, CohortQuery] | None = None
    result: Comparison | None = None
    suggestions: list[tuple[str, str]] = field(default_factory=list)  # (label, URL)
    agents: list[str] = field(default_factory=list)  # datalist suggestions
    versions: list[str] = field(default_factory=list)
    project: str | None = None

    @property
    def csv_link(self) -> str:
        """The comparison shown, its tables as one CSV (``/compare.csv``)."""
        return "/compare.csv" + query_string({"project": self.project, **self.form})


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, session: DbSession) -> Response:
    query = list(request.query_params.multi_items())
    chosen = page_project(session, request.query_params.get("project"))
    canonical = _canonical(query, chosen)
    if canonical is not None:
        return RedirectResponse("/compare" + query_string(canonical), status_code=303)
    form = {key: value for key, value in query if key != "project"}
    view = CompareView(form)
    pid = project_id(session.connection(), chosen.name) if chosen.name else None
    if pid is not None:
        choices = filter_choices(session, pid)  # one index seek per distinct value
        against = _against_known_good(session, chosen, pid, choices.versions)
        if not form and against:
            # The default comparison: what runs now against what the team vouched for.
            return RedirectResponse(against[0][1], status_code=303)
        view = CompareView(
            form,
            suggestions=against + _suggestions(session, chosen, pid, choices.versions),
            agents=choices.agents,
            versions=sorted({version for _, version in choices.versions}, key=version_key),
        )
        if form:
            sides = _cohorts(form, chosen)
            figures = cohorts(session, *(_selection(session, side) for side in sides))
            view = CompareView(
                form,
                cohorts=sides,
                result=comparison(*figures, (sides[0].label, sides[1].label)),
                suggestions=view.suggestions,
                agents=view.agents,
                versions=view.versions,
                project=chosen.name,
            )
    return render(request, "compare.html", {"project": chosen, "view": view})


@router.get("/compare.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def compare_csv(request: Request, session: DbSession) -> StreamingResponse:
    """The comparison the same query shows on ``/compare``, its tables as one CSV
    (``web.exports.reports.compare_frame``); both cohorts must be given."""
    sides, result = comparison_of(session, list(request.query_params.multi_items()))
    frame = compare_frame(result)
    name = filename("compare", sides[0].params.get("project"))
    return csv_response(frame_csv(frame, COMPARE_COLUMNS), name)


def comparison_of(
    session: Session, query: list[tuple[str, str]]
) -> tuple[tuple[CohortQuery, CohortQuery], Comparison]:
    """The comparison a ``/compare`` query asks for, pasted filters expanded; a query
    without cohorts, or with a bad one, is an ``HTTPException`` 400 (404: no project)."""
    chosen = page_project(session, dict(query).get("project"))
    given = _canonical(query, chosen) or dict(query)
    form = {key: value for key, value in given.items() if key != "project"}
    if not form:
        raise HTTPException(400, "give the cohorts to compare: a.<filter> and b.<filter>")
    sides = _cohorts(form, chosen)
    figures = cohorts(session, *(_selection(session, side) for side in sides))
    return sides, comparison(*figures, (sides[0].label, sides[1].label))


def _canonical(query: list[tuple[str, str]], project: PageProject) -> dict[str, str] | None:
    """The URL to redirect to when the query is not in canonical form (a pasted filter
    to expand, blank form fields to drop); None when it is."""
    pasted = {key for key, _ in query if key.endswith(f".{PASTE}")}
    blank = any(value.strip() == "" for _, value in query)
    if not pasted and not blank:
        return None
    result: dict[str, str] = {}
    for key, value in query:
        if value.strip() == "" or key in pasted:
            continue
        result[key] = value
    for key, value in query:
        if key in pasted and value.strip():
            side = key.split(".", 1)[0]
            for name, given in _parse_pasted(key, value).items():
                result.setdefault(f"{side}.{name}", given)  # a field typed beside it wins
    if project.name is not None:
        result.setdefault("project", project.name)
    for side in SIDES:  # a cohort's project is the page's unless it says otherwise
        if result.get(f"{side}.project") == result.get("project"):
            del result[f"{side}.project"]
    return result


def _parse_pasted(key: str, text: str) -> dict[str, str]:
    """A ``/traces`` URL, or just its query string, as filters."""
    text = text.strip()
    query = urlsplit(text).query if ("?" in text or "://" in text) else text.lstrip("?")
    parsed = {}
    for name, value in parse_qsl(query, keep_blank_values=False):
        if name in NOT_FILTERS:
            continue
        if name not in FILTERS:
            raise HTTPException(400, f"{key}: {name!r} is not a /traces filter")
        parsed[name] = value
    return parsed


def _cohorts(form: dict[str, str], project: PageProject) -> tuple[CohortQuery, CohortQuery]:
    """Both sides' filters, checked as ``/api/traces`` checks them (a bad one: 400)."""
    params: dict[str, dict[str, str]] = {side: {} for side in SIDES}
    for key, value in form.items():
        side, _, name = key.partition(".")
        if side not in SIDES or name not in FILTERS:
            raise HTTPException(
                400, f"{key}: not a comparison parameter (a.<filter> or b.<filter>)"
            )
        params[side][name] = value
    result = []
    for side in SIDES:
        given = {"project": project.name or "", **params[side]}
        _check(side, given)
        result.append(CohortQuery(side, given))
    return result[0], result[1]


def _check(side: str, params: dict[str, str]) -> None:
    try:
        trace_selection(TraceFilterParams.model_validate(params))
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "query"
        raise HTTPException(400, f"{side}.{name}: {problem['msg']}") from None
    except BadParameter as error:
        raise HTTPException(400, f"{side}.{error}") from None


def _selection(session: Session, side: CohortQuery) -> TraceFilter:
    """The store's filter for a checked side; a project that does not exist is a 400."""
    project = side.params["project"]
    if project_id(session.connection(), project) is None:
        raise HTTPException(400, f"{side.side}.project: no project named {project!r}")
    return trace_selection(TraceFilterParams.model_validate(side.params)).filter


def _against_known_good(
    session: Session, project: PageProject, pid: int, versions: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Each marked agent's known-good version against the version it runs now, where the
    two differ (``store/known_good.py``)."""
    marks = known_good.marks(session.connection(), pid)
    running = known_good.current_versions(session, pid, marks, versions)
    links = []
    for agent, mark in marks.items():
        now = running[agent]
        if now is None or now == mark.version:
            continue
        link = {"project": project.name, "a.agent": agent, "a.agent_version": mark.version,
                "b.agent": agent, "b.agent_version": now}  # fmt: skip
        label = f"{agent} {now} (running now) vs {mark.version} (known good)"
        links.append((label, "/compare" + query_string(link)))
    return links


def _suggestions(
    session: Session, project: PageProject, pid: int, versions: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Comparisons worth one click: each agent's consecutive versions, and the last day
    of data against the day before."""
    suggestions = []
    by_agent: dict[str, list[str]] = {}
    for agent, version in versions:
        by_agent.setdefault(agent, []).append(version)
    for agent, found in sorted(by_agent.items()):
        ordered = sorted(found, key=version_key)
        for before, after in itertools.pairwise(ordered):
            link = {"project": project.name, "a.agent": agent, "a.agent_version": before,
                    "b.agent": agent, "b.agent_version": after}  # fmt: skip
            suggestions.append((f"{agent} {before} vs {after}", "/compare" + query_string(link)))
    latest = latest_start_ns(session, pid)
    if latest is not None:
        end = (latest // HOUR_NS + 1) * HOUR_NS
        day = 24 * HOUR_NS
        link = {
            "project": project.name,
            "a.since": iso_time(end - 2 * day),
            "a.until": iso_time(end - day - 1000),
            "b.since": iso_time(end - day),
            "b.until": iso_time(end - 1000),
        }
        suggestions.append(
            ("the last 24 hours of data vs the 24 before", "/compare" + query_string(link))
        )
    return suggestions
