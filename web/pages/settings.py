"""``/settings/prices``: a project's custom prices, and re-pricing stored costs.

GET  /settings/prices?project=      the prices, a form to add one, the re-pricing job
POST /settings/prices               add a price from the form: 303 back to the page;
                                    422 with the form and what is wrong
POST /settings/prices/{id}/delete   delete one: 303 back to its project's page
POST /settings/prices/reprice       start re-pricing in the background: 303 back;
                                    422 for a bad since, 409 while one runs
GET  /settings/prices/reprice       the job's progress alone, polled by htmx

A price is checked by ``PriceIn``, as ``POST /api/prices`` checks it, and the job is
the one ``/api/reprice`` starts (``web/reprice_job.py``). After a change the collector
reloads its prices: new spans are priced with it at once, stored ones when re-priced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from store.custom_prices import NewCustomPrice, add_custom_price, custom_prices
from store.custom_prices import delete_custom_price as delete_stored_price
from store.models import DEFAULT_PROJECT, CustomPrice, Project
from store.projects import project_id
from web.access import allow
from web.api_prices import PriceIn
from web.deps import DbSession
from web.forms import Refused, form_reader, validated
from web.origin import same_origin
from web.pages.context import PageProject, form_project, page_project
from web.params import RowId
from web.reprice_job import BadRequest, Busy, JobState, visible_state
from web.templating import EMPTY, query_string, render

router = APIRouter()

MAX_FORM_BYTES = 64 * 1024  # a price is a few hundred bytes, percent-encoded
RATES = {
    "input_usd_per_mtok": "Input",
    "output_usd_per_mtok": "Output",
    "cache_read_usd_per_mtok": "Cache read",
    "cache_write_usd_per_mtok": "Cache write",
    "reasoning_usd_per_mtok": "Reasoning",
}
# What a part without its own price costs: it stays in its total (store/models/price.py).
UNSET_RATE = {
    "cache_read_usd_per_mtok": "as input",
    "cache_write_usd_per_mtok": "as input",
    "reasoning_usd_per_mtok": "as output",
}
LABELS = {
    "project": "Project",
    "model": "Model pattern",
    "provider": "Provider",
    **{name: f"{label} USD/1M" for name, label in RATES.items()},
    "effective_from": "Effective from",
}


@dataclass(frozen=True, slots=True)
class PricesView:
    """What ``settings_prices.html`` shows."""

    project: str  # whose prices: the page's project, or ``default`` before there is one
    prices: list[CustomPrice]
    job: JobState  # this server's latest re-pricing
    form: dict[str, str] = field(default_factory=dict)  # the add form: as sent, on error
    problems: list[str] = field(default_factory=list)  # why the sent price was refused
    invalid: frozenset[str] = frozenset()  # the fields the problems name
    since: str = ""  # the re-pricing form, as sent
    scope: str = "project"  # "project" or "all"
    reprice_error: str | None = None  # why the re-pricing was not started
    reprice_invalid: str | None = None  # the field it names: "since" or "project"


def fmt_rate(value: float) -> str:
    """A price as it was entered (0.075, 2.5, 1,000): ``|usd`` would round it to cents."""
    return f"${value:,.10g}"


def fmt_when(value: datetime | None) -> str:
    if value is None:
        return EMPTY
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


posted_form = form_reader(MAX_FORM_BYTES, fields=20)
Form = Annotated[dict[str, str], Depends(posted_form)]


@router.get("/settings/prices", response_class=HTMLResponse)
def prices_page(
    request: Request, session: DbSession, project: str | None = Query(None, max_length=200)
) -> HTMLResponse:
    return _page(request, session, page_project(session, project or None))


@router.post("/settings/prices", dependencies=[Depends(same_origin)])
def add_price(request: Request, session: DbSession, form: Form) -> Response:
    price = validated(PriceIn, form, LABELS)
    if isinstance(price, Refused):
        chosen = form_project(session, price.form["project"])
        return _page(
            request, session, chosen, 422, form=price.form, problems=price.problems,
            invalid=price.invalid,
        )  # fmt: skip
    allow(request, price.project, "admin")
    fields = price.model_dump(exclude={"project"})
    with request.state.engine.begin() as connection:
        add_custom_price(connection, price.project, NewCustomPrice(**fields))
    request.state.ingest.reload_prices()
    return RedirectResponse(_here(price.project), status_code=303)


@router.post("/settings/prices/{price_id}/delete", dependencies=[Depends(same_origin)])
def delete_price(request: Request, session: DbSession, price_id: RowId) -> Response:
    price = session.get(CustomPrice, price_id)
    if price is None:
        raise HTTPException(404, f"no custom price {price_id}")
    project = session.get_one(Project, price.project_id).name
    delete_stored_price(session.connection(), price_id)
    session.commit()
    request.state.ingest.reload_prices()
    return RedirectResponse(_here(project), status_code=303)


@router.post("/settings/prices/reprice", dependencies=[Depends(same_origin)])
def start_reprice(request: Request, session: DbSession, form: Form) -> Response:
    name = form.get("project") or DEFAULT_PROJECT
    scope = "all" if form.get("scope") == "all" else "project"
    since = form.get("since", "")
    allow(request, None if scope == "all" else name, "admin")
    chosen = form_project(session, name)
    try:
        request.state.reprice_job.start(
            request.state.engine, project=None if scope == "all" else name, since=since
        )
    except (BadRequest, Busy) as error:
        status = 409 if isinstance(error, Busy) else 422
        extra = {"since": since, "scope": scope, "reprice_error": str(error)}
        if isinstance(error, BadRequest):
            extra["reprice_invalid"] = error.field
        return _page(request, session, chosen, status_code=status, **extra)
    return RedirectResponse(_here(chosen.name) + "#reprice", status_code=303)


@router.get("/settings/prices/reprice", response_class=HTMLResponse)
def reprice_progress(request: Request) -> HTMLResponse:
    """The job's state alone; htmx polls it while running and then keeps the result."""
    return render(request, "settings_reprice.html", {"job": visible_state(request)})


def _page(
    request: Request,
    session: Session,
    chosen: PageProject,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    name = chosen.name or DEFAULT_PROJECT
    found = project_id(session.connection(), name)
    prices = custom_prices(session, found) if found is not None else []
    view = PricesView(name, prices, visible_state(request), **extra)
    context = {
        "project": chosen,
        "view": view,
        "labels": LABELS,
        "rates": RATES,
        "unset_rate": UNSET_RATE,
        "rate": fmt_rate,
        "when": fmt_when,
    }
    return render(request, "settings_prices.html", context, status_code=status_code)


def _here(project: str | None) -> str:
    """The page of ``project``; None (nothing stored yet) is the page without one."""
    return "/settings/prices" + (query_string({"project": project}) if project else "")
