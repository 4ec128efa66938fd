"""The trace selection of a query string, parsed once for the API, the CSV and the page.

``GET /api/traces``, ``GET /api/traces.csv`` and the ``/traces`` page take the same
parameters, so a page URL, its API twin and its export always select the same traces.
Two steps, shared by all three:

1. :class:`TraceFilterParams` / :class:`TracePageParams` check types and ranges (pydantic).
   The API declares them as a query model, so FastAPI answers a bad value with its 422;
   the page calls :func:`page_params`, which turns the same errors into
   :class:`~web.params.BadParameter` for its 400 page.
2. :func:`trace_selection` turns checked values into a :class:`store.queries.TraceFilter`
   (times parsed, milliseconds to nanoseconds); it raises ``BadParameter`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from store.queries import SortKey, TraceFilter, TracePage, list_traces
from store.vocabulary import Status
from web.params import BadParameter, time_ns

Order = Literal["asc", "desc"]


class TraceFilterParams(BaseModel):
    """Which traces, in which order: the filters and sort of ``/api/traces``."""

    project: str | None = Field(None, description="Project name; all projects if omitted.")
    service: str | None = Field(None, description="service.name of the root span.")
    agent: str | None = Field(None, description="Agent name of the trace.")
    agent_version: str | None = Field(None, description="Agent version of the trace.")
    model: str | None = Field(None, description="A model used by any span of the trace.")
    status: Status | None = Field(None, description="ok or error.")
    session_id: str | None = Field(None, description="Session / conversation id.")
    user_id: str | None = Field(None, description="End-user id.")
    since: str | None = Field(
        None, description="Start time at or after: ISO 8601, epoch ns, or an age (24h)."
    )
    until: str | None = Field(None, description="Start time at or before (same forms).")
    min_cost: float | None = Field(None, ge=0, description="Minimum cost in USD.")
    max_cost: float | None = Field(None, ge=0, description="Maximum cost in USD.")
    min_duration_ms: float | None = Field(None, ge=0, description="Minimum duration in ms.")
    max_duration_ms: float | None = Field(None, ge=0, description="Maximum duration in ms.")
    q: str | None = Field(None, max_length=1000, description="Text in input, output or name.")
    sort: SortKey = Field(SortKey.START_TIME, description="Sort column.")
    # A pattern rather than a Literal keeps the API's 422 message as it was.
    order: str = Field("desc", pattern="^(asc|desc)$", description="asc or desc.")


class TracePageParams(TraceFilterParams):
    """One page of the selection: ``/api/traces`` and the ``/traces`` page."""

    limit: int = Field(50, ge=1, le=1000, description="Page size.")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


@dataclass(frozen=True, slots=True)
class TraceSelection:
    filter: TraceFilter
    sort: SortKey
    descending: bool


def trace_selection(params: TraceFilterParams) -> TraceSelection:
    """The store's filter for checked parameters; a time that does not parse is a
    :class:`BadParameter` naming ``since`` or ``until``."""
    trace_filter = TraceFilter(
        project=params.project,
        service=params.service,
        agent=params.agent,
        agent_version=params.agent_version,
        model=params.model,
        status=params.status,
        session_id=params.session_id,
        user_id=params.user_id,
        start_after_ns=time_ns("since", params.since),
        start_before_ns=time_ns("until", params.until),
        min_cost_usd=params.min_cost,
        max_cost_usd=params.max_cost,
        min_duration_ns=_ms_to_ns(params.min_duration_ms),
        max_duration_ns=_ms_to_ns(params.max_duration_ms),
        text=params.q,
    )
    return TraceSelection(trace_filter, params.sort, params.order == "desc")


def trace_page(session: Session, params: TracePageParams) -> TracePage:
    """The page of traces the parameters ask for: what ``/api/traces`` returns and the
    ``/traces`` page shows. Raises :class:`BadParameter` or
    :class:`~store.queries.InvalidCursor`."""
    selection = trace_selection(params)
    return list_traces(
        session,
        selection.filter,
        sort=selection.sort,
        descending=selection.descending,
        limit=params.limit,
        cursor=params.cursor,
    )


def page_params(query: Mapping[str, str]) -> TracePageParams:
    """A dashboard query string, checked as the API checks it.

    An HTML form sends every field, the empty ones as ``name=``; empty means "any" here
    (the API, which forms do not call, keeps treating ``agent=`` as the empty name).
    The first invalid value is a :class:`BadParameter` naming its parameter.
    """
    given = {name: value for name, value in query.items() if value.strip() != ""}
    try:
        return TracePageParams.model_validate(given)
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "query"
        raise BadParameter(name, problem["msg"]) from None


def _ms_to_ns(value: float | None) -> int | None:
    return None if value is None else int(value * 1_000_000)
