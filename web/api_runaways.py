"""Runaway traces: flagged while they arrived, past their agent's own limits
(``collector/runaway.py``).

GET /api/runaways?project=&since=&limit=   the project's runaways, newest flag first
                                          (``since``: flagged at or after; the overview
                                          shows the last 7 days)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from store.models import Runaway, Trace
from store.projects import project_id
from store.runaways import runaways
from web.deps import DbSession
from web.params import BadParameter, time_ns
from web.schemas import RunawayOut
from web.serialize import iso_time


class RunawayList(BaseModel):
    runaways: list[RunawayOut]


router = APIRouter()


@router.get("/api/runaways", response_model=RunawayList)
def list_runaways(
    session: DbSession,
    project: Annotated[str, Query(max_length=200)] = "default",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    since: Annotated[
        str | None, Query(description="Flagged at or after: ISO 8601, ns or an age (7d).")
    ] = None,
) -> RunawayList:
    found = project_id(session.connection(), project)
    after = flagged_since(since)
    pairs = runaways(session, found, since=after, limit=limit) if found is not None else []
    return RunawayList(runaways=[runaway_out(runaway, trace) for runaway, trace in pairs])


def flagged_since(since: str | None) -> datetime | None:
    """``since`` as a moment; a bad one is a 400 naming it."""
    try:
        ns = time_ns("since", since)
    except BadParameter as error:
        raise HTTPException(400, str(error)) from None
    if ns is None:
        return None
    whole = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return whole + timedelta(microseconds=ns // 1000 % 1_000_000)


def runaway_out(runaway: Runaway, trace: Trace) -> RunawayOut:
    return RunawayOut(
        trace_id=runaway.trace_id,
        baseline=runaway.baseline,
        name=runaway.name,
        flagged_at=runaway.flagged_at.isoformat().replace("+00:00", "Z"),
        steps=runaway.steps,
        tokens=runaway.tokens,
        steps_limit=runaway.steps_limit,
        tokens_limit=runaway.tokens_limit,
        baseline_traces=runaway.baseline_traces,
        trace_start_time=iso_time(trace.start_time_ns),
        trace_steps=trace.llm_call_count + trace.tool_call_count,
        trace_tokens=trace.input_tokens + trace.output_tokens,
        trace_cost_usd=trace.cost_usd,
    )
