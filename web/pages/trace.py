"""``GET /traces/{trace_id}``: one trace as a waterfall, a span panel and a reasoning chain.

/traces/{id}                          the page: ``?span=`` opens a span's panel,
                                      ``?view=chain`` reads the trace as steps
/traces/{id}/spans/{span_id}          the panel alone, for trace.js (``HX-Request``);
                                      other clients are sent to the page with ``?span=``
/traces/{id}/spans/{span_id}/value    one whole value of a span, as text ("show all")
/traces/{id}/value                    one whole trace-level value (input, output, logs)

Every link carries ``?project=``; without it, an id found in several projects is
answered with a page that links each. The page reads light rows for the waterfall
(``store/trace_read.py``) and one whole span for the panel, so a 5,000-span trace stays
fast and its HTML small.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from store.models import Trace
from store.prices_read import prices_by_key
from store.runaways import runaway_of
from store.score_read import trace_scores
from store.trace_read import (
    FoundTrace,
    find_traces,
    full_span,
    span_contents,
    span_lines,
    trace_level_logs,
)
from web.chain import CHAIN_CHARS, Chain, Step, build_chain
from web.deps import DbSession
from web.pages.sessions import session_link
from web.score_view import FORMATS, ScorePanel, score_panel
from web.serialize import log_json, price_key, span_json
from web.templating import query_string, render
from web.trace_panel import SpanPanel, TracePanel, span_panel, trace_document, trace_panel
from web.trace_view import (
    Extent,
    Row,
    TraceUrls,
    display_text,
    label,
    parse_path,
    preorder,
    ticks,
    value_at,
    waterfall,
)

router = APIRouter()

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-fA-F]{16}$")
CHAIN_PAGE_STEPS = 500
PROJECT_HELP = "The trace's project, when its id is in several."


class View(StrEnum):
    TIMELINE = "timeline"
    CHAIN = "chain"


@dataclass(frozen=True, slots=True)
class TracePage:
    """What ``trace.html`` shows."""

    trace: Trace
    project: str
    urls: TraceUrls
    view: View
    # The side panel: the selected span's, else the trace's own (input, output, logs).
    panel: SpanPanel | TracePanel
    selected: str | None = None
    # The trace's scores from every source (suite runs, people, the agent), by evaluator.
    scores: ScorePanel = field(default_factory=lambda: ScorePanel([], 0))
    # Timeline view: one row per span in tree order, and the time axis.
    rows: list[Row] = field(default_factory=list)
    ticks: list[tuple[str, float]] = field(default_factory=list)
    # Chain view: the whole chain, and the page of its steps shown from ``offset``.
    chain: Chain | None = None
    steps: list[Step] = field(default_factory=list)
    offset: int = 0

    @property
    def traces_url(self) -> str:
        return "/traces" + query_string({"project": self.project})

    @property
    def session_url(self) -> str | None:
        """The conversation this trace is a turn of."""
        if self.trace.session_id is None:
            return None
        return session_link(self.project, self.trace.session_id)

    def chain_page_url(self, offset: int) -> str:
        return self.urls.page(view=View.CHAIN.value, offset=offset or None, span=self.selected)


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
def trace_page(
    request: Request,
    session: DbSession,
    trace_id: str,
    project: str | None = Query(None, description=PROJECT_HELP),
    span: str | None = Query(None, description="A span whose panel is open."),
    view: View = Query(View.TIMELINE, description="timeline or chain."),
    offset: int = Query(0, ge=0, description="First chain step shown."),
) -> Response:
    found = _find(session, trace_id, project)
    if len(found) > 1:
        context = {"trace_id": found[0].trace.trace_id, "found": found}
        return render(request, "trace_choose.html", context)
    [one] = found
    trace = one.trace
    urls = TraceUrls(trace.trace_id, one.project)
    panel: SpanPanel | TracePanel
    if span is not None:
        panel = _span_panel(session, one, urls, span)
    else:
        panel = _trace_panel(session, one, urls)
    scores = score_panel(trace_scores(session.connection(), trace.project_id, trace.trace_id))
    page = TracePage(trace, one.project, urls, view, panel, span.lower() if span else None, scores)
    if view is View.TIMELINE:
        lines = span_lines(session, trace.project_id, trace.trace_id)
        scale = Extent(trace.start_time_ns, trace.end_time_ns)
        page = replace(page, rows=waterfall(preorder(lines), scale), ticks=ticks(scale))
    else:
        contents = span_contents(session, trace.project_id, trace.trace_id, CHAIN_CHARS)
        chain = build_chain(preorder(contents))
        if offset and offset >= len(chain.steps):
            raise HTTPException(404, f"The chain has {len(chain.steps)} steps; none from {offset}.")
        steps = chain.steps[offset : offset + CHAIN_PAGE_STEPS]
        page = replace(page, chain=chain, steps=steps, offset=offset)
    runaway = runaway_of(session, trace.project_id, trace.trace_id)
    return render(request, "trace.html", {"page": page, "runaway": runaway, **FORMATS})


@router.get("/traces/{trace_id}/spans/{span_id}", response_class=HTMLResponse)
def span_fragment(
    request: Request,
    session: DbSession,
    trace_id: str,
    span_id: str,
    project: str | None = Query(None, description=PROJECT_HELP),
) -> Response:
    one = _one(session, trace_id, project)
    urls = TraceUrls(one.trace.trace_id, one.project)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(urls.span(span_id.lower()), status_code=303)
    panel = _span_panel(session, one, urls, span_id)
    return render(request, "trace_panel.html", {"panel": panel, "urls": urls})


@router.get("/traces/{trace_id}/spans/{span_id}/value")
def span_value(
    session: DbSession,
    trace_id: str,
    span_id: str,
    path: str = Query(..., description="JSON array of keys and indexes into the span."),
    project: str | None = Query(None, description=PROJECT_HELP),
) -> Response:
    one = _one(session, trace_id, project)
    return _value(_span_document(session, one, span_id), path)


@router.get("/traces/{trace_id}/value")
def trace_value(
    session: DbSession,
    trace_id: str,
    path: str = Query(..., description="JSON array: input, output or a trace log record."),
    project: str | None = Query(None, description=PROJECT_HELP),
) -> Response:
    one = _one(session, trace_id, project)
    return _value(_trace_document(session, one), path)


def _find(session: Session, trace_id: str, project: str | None) -> list[FoundTrace]:
    """The trace, in one project or several; a 404 page when there is none."""
    if not _TRACE_ID.match(trace_id):
        raise HTTPException(404, f"No trace {label(trace_id, 80)!r}: a trace id is 32 hex digits.")
    found = find_traces(session, trace_id.lower(), project)
    if not found:
        where = f" in project {label(project, 80)!r}" if project is not None else ""
        raise HTTPException(404, f"No trace {trace_id.lower()}{where}.")
    return found


def _one(session: Session, trace_id: str, project: str | None) -> FoundTrace:
    found = _find(session, trace_id, project)
    if len(found) > 1:
        names = ", ".join(one.project for one in found)
        raise HTTPException(
            400, f"Trace {trace_id} is in several projects ({names}): pass ?project=."
        )
    return found[0]


def _span_document(session: Session, one: FoundTrace, span_id: str) -> dict[str, Any]:
    """The span as ``GET /api/traces/{id}`` shows it: what the panel is built from."""
    stored = None
    if _SPAN_ID.match(span_id):
        stored = full_span(session, one.trace.project_id, one.trace.trace_id, span_id.lower())
    if stored is None:
        raise HTTPException(404, f"No span {label(span_id, 80)!r} in trace {one.trace.trace_id}.")
    span, logs = stored
    return span_json(span, logs, prices_by_key(session.connection(), [price_key(span)]))


def _span_panel(session: Session, one: FoundTrace, urls: TraceUrls, span_id: str) -> SpanPanel:
    return span_panel(_span_document(session, one, span_id), one.trace.start_time_ns, urls)


def _trace_document(session: Session, one: FoundTrace) -> dict[str, Any]:
    records = trace_level_logs(session, one.trace.project_id, one.trace.trace_id)
    return trace_document(one.trace.input, one.trace.output, [log_json(r) for r in records])


def _trace_panel(session: Session, one: FoundTrace, urls: TraceUrls) -> TracePanel:
    return trace_panel(_trace_document(session, one), one.trace.start_time_ns, urls)


def _value(document: dict[str, Any], raw_path: str) -> Response:
    """The whole value as plain text: inert in a browser whatever it contains."""
    try:
        value = value_at(document, parse_path(raw_path))
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    except LookupError:
        raise HTTPException(404, "No value at that path.") from None
    return PlainTextResponse(display_text(value) if value is not None else "")
