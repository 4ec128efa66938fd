"""The JSON API: traces with filters and keyset pagination, one trace as a span tree."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from store.prices_read import prices_by_key
from store.queries import InvalidCursor, get_trace
from store.runaways import runaway_of
from store.score_read import trace_scores
from web.api_alerts import router as alerts_router
from web.api_budgets import router as budgets_router
from web.api_csv import router as csv_router
from web.api_datasets import router as datasets_router
from web.api_drift import router as drift_router
from web.api_eval_compare import router as eval_compare_router
from web.api_eval_csv import router as eval_csv_router
from web.api_evals import router as evals_router
from web.api_known_good import router as known_good_router
from web.api_lists_csv import router as lists_csv_router
from web.api_prices import router as prices_router
from web.api_reprice import router as reprice_router
from web.api_runaways import router as runaways_router
from web.api_runaways import runaway_out
from web.api_schedules import router as schedules_router
from web.deps import DbSession
from web.filters import TracePageParams, trace_page
from web.params import BadParameter
from web.schemas import TraceDetailOut, TraceList
from web.score_view import score_json
from web.serialize import log_json, price_key, span_json, trace_json
from web.tree import tree_json

router = APIRouter()
for part in (
    csv_router,
    lists_csv_router,
    eval_csv_router,
    evals_router,
    datasets_router,
    eval_compare_router,
    prices_router,
    reprice_router,
    budgets_router,
    runaways_router,
    schedules_router,
    known_good_router,
    alerts_router,
    drift_router,
):
    router.include_router(part)

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")


@router.get("/api/traces", response_model=TraceList)
def api_traces(session: DbSession, params: Annotated[TracePageParams, Query()]) -> Response:
    """One page of traces; the parameters are those of the ``/traces`` page and the CSV."""
    try:
        page = trace_page(session, params)
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
    """The trace object with ``spans``: root spans, each with nested ``children``; and
    ``scores``: the trace's scores from every source, by evaluator."""
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
    scores = trace_scores(session.connection(), detail.trace.project_id, detail.trace.trace_id)
    head["scores"] = [score_json(score) for score in scores.scores]
    runaway = runaway_of(session, detail.trace.project_id, detail.trace.trace_id)
    head["runaway"] = None if runaway is None else runaway_out(runaway, detail.trace).model_dump()
    by_span = detail.logs.by_span
    prices = prices_by_key(session.connection(), [price_key(span) for span in detail.spans])
    spans = tree_json(detail.spans, lambda span: span_json(span, by_span.get(span.span_id), prices))
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


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")
