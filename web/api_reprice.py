"""Re-pricing stored costs through the API, in the background (``web/reprice_job.py``).

POST /api/reprice   {"project": optional, "since": optional}: 202 with the job's state;
                    409 while one runs; 422 for a since that is not a time, or an
                    unknown project
GET  /api/reprice   the job's state: idle, running (with its progress), done or error

The same job as the Settings page's button: one at a time per server process. The
router's lifespan owns it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from web.access import allow
from web.origin import same_origin
from web.reprice_job import MAX_SINCE_CHARS, BadRequest, Busy, JobState, reprice_jobs, visible_state
from web.request_body import json_body_doc, json_model

router = APIRouter(lifespan=reprice_jobs)

MAX_BODY_BYTES = 4096


class RepriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: str | None = Field(None, min_length=1, max_length=200, description="null: all.")
    since: str | None = Field(
        None,
        max_length=MAX_SINCE_CHARS,
        description="Traces that started then or later: ISO 8601, nanoseconds since the "
        "epoch, or an age such as 30d. null: all time.",
    )

    @field_validator("project", "since")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value


class RepriceOut(BaseModel):
    status: Literal["idle", "running", "done", "error"]
    project: str | None = Field(description="null: every project.")
    since: str | None
    traces_done: int
    traces_total: int | None = Field(description="null until counted.")
    calls: int = Field(description="Model calls read.")
    changed: int = Field(description="Spans whose cost changed.")
    traces: int = Field(description="Traces whose cost was recomputed (when done).")
    seconds: float | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


async def reprice_body(request: Request) -> RepriceIn:
    """An empty body re-prices everything; else a JSON object, validated as prices are."""
    return await json_model(request, RepriceIn, MAX_BODY_BYTES, "the options", empty=True)


@router.post(
    "/api/reprice",
    response_model=RepriceOut,
    status_code=202,
    dependencies=[Depends(same_origin)],
    openapi_extra=json_body_doc(RepriceIn, required=False),
)
def start_reprice(
    request: Request, options: Annotated[RepriceIn, Depends(reprice_body)]
) -> RepriceOut:
    """Recompute stored costs at today's prices; poll ``GET /api/reprice``."""
    allow(request, options.project, "admin")
    try:
        state = request.state.reprice_job.start(
            request.state.engine, project=options.project, since=options.since
        )
    except BadRequest as error:
        problem = {"type": "value_error", "loc": ["body", error.field], "msg": str(error)}
        raise HTTPException(422, [problem]) from None
    except Busy as error:
        raise HTTPException(409, str(error)) from None
    return state_out(state)


@router.get("/api/reprice", response_model=RepriceOut)
def reprice_state(request: Request) -> RepriceOut:
    """The latest re-pricing of this server process (idle when there was none)."""
    return state_out(visible_state(request))


def state_out(state: JobState) -> RepriceOut:
    return RepriceOut(**asdict(state))
