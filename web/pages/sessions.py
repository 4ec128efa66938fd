"""``GET /sessions`` and ``GET /sessions/{session_id}``: traces grouped by conversation.

The list shows each session's totals, the most recently active first; a session's page
reads as the conversation did, each trace's input and output turn by turn, with links
to the trace pages. Both page with keyset cursors (``store/sessions.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import HTMLResponse, Response, StreamingResponse

from store.models import Trace
from store.projects import project_id
from store.queries import InvalidCursor
from store.sessions import (
    SessionSummary,
    list_sessions,
    session_summary,
    session_traces,
)
from web.deps import DbSession
from web.exports.csv_writer import filename
from web.exports.response import CSV_RESPONSES, csv_response
from web.exports.sessions import session_csv
from web.pages.context import PageProject, page_project
from web.templating import query_string, render

router = APIRouter()


class AnyText(Convertor[str]):
    """The rest of the path, whatever it holds: a session id is client text. Starlette's
    ``path`` (``.*``) stops at a newline, so an id with one was a 404, and the ``$``
    after it let ``/sessions/ends%0A`` open the session ``ends``."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anytext", AnyText())

PAGE_SESSIONS = 50
PAGE_TURNS = 100


def session_link(project: str, session_id: str) -> str:
    """A session's page; the id is percent-encoded whole, since any text can be an id."""
    return f"/sessions/{quote(session_id, safe='')}{query_string({'project': project})}"


@dataclass(frozen=True, slots=True)
class SessionsView:
    """What ``sessions.html`` shows."""

    sessions: Sequence[SessionSummary]
    next_link: str | None
    first_link: str | None  # shown past the first page


@dataclass(frozen=True, slots=True)
class SessionView:
    """What ``sessions_detail.html`` shows: one conversation, a page of its turns."""

    summary: SessionSummary
    traces: Sequence[Trace]
    first_turn: int
    next_link: str | None
    first_link: str | None
    traces_link: str  # the same traces in the trace table


@router.get("/sessions", response_class=HTMLResponse)
def sessions_page(
    request: Request,
    session: DbSession,
    project: str | None = Query(None),
    cursor: str | None = Query(None),
) -> HTMLResponse:
    chosen = page_project(session, project or None)
    found = project_id(session.connection(), chosen.name) if chosen.name else None
    if found is None:
        view = SessionsView([], None, None)
        return _render(request, "sessions.html", chosen, view)
    try:
        page = list_sessions(session, found, limit=PAGE_SESSIONS, cursor=cursor or None)
    except InvalidCursor as error:
        raise HTTPException(400, f"cursor: {error}") from None
    base = {"project": chosen.name}
    view = SessionsView(
        page.sessions,
        next_link=query_string(base, cursor=page.next_cursor) if page.next_cursor else None,
        first_link=query_string(base) if cursor else None,
    )
    return _render(request, "sessions.html", chosen, view)


@router.get("/sessions.csv", response_class=StreamingResponse, responses=CSV_RESPONSES)
def sessions_csv(request: Request, session: DbSession, project: str = Query()) -> Response:
    """Every session of the table, all its pages, as CSV; an unknown project is a 404."""
    chunks = sessions_export(session, request.state.engine, project)
    session.close()  # the export reads in its own short sessions while it streams
    return csv_response(chunks, filename("sessions", project))


def sessions_export(session: Session, engine: sa.Engine, project: str) -> Iterator[bytes]:
    """The export of ``/sessions.csv`` (and ``reasonlens export sessions``)."""
    chosen = page_project(session, project)
    found = project_id(session.connection(), chosen.name) if chosen.name else None
    if found is None:
        raise HTTPException(404, f"no project named {project!r}")
    return session_csv(engine, found)


@router.get("/sessions/{session_id:anytext}", response_class=HTMLResponse)
def session_page(
    request: Request,
    session: DbSession,
    session_id: str,
    project: str | None = Query(None),
    cursor: str | None = Query(None),
) -> HTMLResponse:
    chosen = page_project(session, project or None)
    found = project_id(session.connection(), chosen.name) if chosen.name else None
    summary = None if found is None else session_summary(session, found, session_id)
    if summary is None or found is None or chosen.name is None:
        raise HTTPException(404, f"no session {session_id!r} in project {chosen.name!r}")
    try:
        page = session_traces(session, found, session_id, limit=PAGE_TURNS, cursor=cursor or None)
    except InvalidCursor as error:
        raise HTTPException(400, f"cursor: {error}") from None
    here = session_link(chosen.name, session_id)
    view = SessionView(
        summary,
        page.traces,
        page.first_turn,
        next_link=f"{here}&cursor={quote(page.next_cursor)}" if page.next_cursor else None,
        first_link=here if cursor else None,
        traces_link="/traces"
        + query_string({"project": chosen.name, "session_id": session_id, "order": "asc"}),
    )
    return _render(request, "sessions_detail.html", chosen, view)


def _render(
    request: Request, template: str, project: PageProject, view: SessionsView | SessionView
) -> HTMLResponse:
    context = {"project": project, "view": view, "session_link": session_link}
    return render(request, template, context)
