"""The JSON API: traces with filters and keyset pagination, one trace as a span tree."""

from __future__ import annotations

import re
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from store.queries import InvalidCursor, SortKey, TraceFilter, get_trace, list_traces
from store.vocabulary import Status
from web.deps import DbSession
from web.params import BadParameter, time_ns
from web.schemas import TraceDetailOut, TraceList
from web.serialize import log_json, span_json, trace_json
from web.tree import tree_json

router = APIRouter()

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")


@router.get("/api/traces", response_model=TraceList)
def api_traces(
    session: DbSession,
    project: str | None = Query(None, description="Project name; all projects if omitted."),
    service: str | None = Query(None, description="service.name of the root span."),
    agent: str | None = Query(None, description="Agent name of the trace."),
    agent_version: str | None = Query(None, description="Agent version of the trace."),
    model: str | None = Query(None, description="A model used by any span of the trace."),
    status: Status | None = Query(None, description="ok or error."),
    session_id: str | None = Query(None, description="Session / conversation id."),
    user_id: str | None = Query(None, description="End-user id."),
    since: str | None = Query(
        None, description="Start time at or after: ISO 8601, epoch ns, or an age (24h)."
    ),
    until: str | None = Query(None, description="Start time at or before (same forms)."),
    min_cost: float | None = Query(None, ge=0, description="Minimum cost in USD."),
    max_cost: float | None = Query(None, ge=0, description="Maximum cost in USD."),
    min_duration_ms: float | None = Query(None, ge=0, description="Minimum duration in ms."),
    max_duration_ms: float | None = Query(None, ge=0, description="Maximum duration in ms."),
    q: str | None = Query(None, max_length=1000, description="Text in input, output or name."),
    sort: SortKey = Query(SortKey.START_TIME, description="Sort column."),
    order: str = Query("desc", pattern="^(asc|desc)$", description="asc or desc."),
    limit: int = Query(50, ge=1, le=1000, description="Page size."),
    cursor: str | None = Query(None, description="next_cursor of the previous page."),
) -> Response:
    try:
        trace_filter = TraceFilter(
            project=project,
            service=service,
            agent=agent,
            agent_version=agent_version,
            model=model,
            status=status,
            session_id=session_id,
            user_id=user_id,
            start_after_ns=time_ns("since", since),
            start_before_ns=time_ns("until", until),
            min_cost_usd=min_cost,
            max_cost_usd=max_cost,
            min_duration_ns=_ms_to_ns(min_duration_ms),
            max_duration_ns=_ms_to_ns(max_duration_ms),
            text=q,
        )
        page = list_traces(
            session,
            trace_filter,
            sort=sort,
            descending=order == "desc",
            limit=limit,
            cursor=cursor,
        )
    except (BadParameter, InvalidCursor) as error:
        raise HTTPException(400, str(error)) from None
    body = {
        "traces": [trace_json(record.trace, record.project) for record in page.traces],
        "next_cursor": page.next_cursor,
    }
    return _json(body)


@router.get("/api/traces/{trace_id}", response_model=TraceDetailOut)
def api_trace(
    session: DbSession,
    trace_id: str,
    project: str | None = Query(None, description="Project name, if the id is in several."),
) -> Response:
    """The trace object with ``spans``: root spans, each with nested ``children``."""
    if not _TRACE_ID.match(trace_id):
        raise HTTPException(400, "trace_id must be 32 hexadecimal characters")
    details = get_trace(session, trace_id.lower(), project)
    if not details:
        raise HTTPException(404, f"trace {trace_id} not found")
    if len(details) > 1:
        projects = ", ".join(sorted(detail.project for detail in details))
        raise HTTPException(
            400, f"trace {trace_id} exists in several projects ({projects}); pass ?project="
        )
    detail = details[0]
    head = trace_json(detail.trace, detail.project)
    head["logs"] = [log_json(record) for record in detail.logs.unattached]
    by_span = detail.logs.by_span
    spans = tree_json(detail.spans, lambda span: span_json(span, by_span.get(span.span_id)))
    return Response(
        orjson.dumps(head)[:-1] + b',"spans":' + spans + b"}", media_type="application/json"
    )


@router.get("/healthz")
def healthz(session: DbSession, request: Request) -> dict[str, Any]:
    session.execute(sa.select(1))
    writer = request.state.ingest.writer
    return {
        "status": "ok",
        "write_queue_spans": writer.queued_spans,
        "writing_spans": writer.writing_spans,
    }


def _ms_to_ns(value: float | None) -> int | None:
    return None if value is None else int(value * 1_000_000)


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")
