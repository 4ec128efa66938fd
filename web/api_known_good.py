"""Known-good agent versions: what drift and comparisons measure against by default.

PUT    /api/known-good                  {"project", "agent", "version", "note"}: mark
                                        it (replacing the agent's earlier mark)
GET    /api/known-good?project=         the project's marks, each with the version of
                                        the agent that runs now
DELETE /api/known-good?project=&agent=  204; 404 when the agent has no mark

A version is marked only if the project has traces of it: a typo is a 422, not a mark
that matches nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from store import audit, known_good
from store.models import Trace
from store.projects import project_id
from web.access import allow
from web.deps import DbSession
from web.origin import same_origin
from web.request_body import json_body_doc, json_model

router = APIRouter()

MAX_MARK_BYTES = 4 * 1024


class KnownGoodIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: str = Field("default", min_length=1, max_length=200)
    agent: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=2000, description="Why it is trusted.")

    @field_validator("project", "agent", "version", "note")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value


class KnownGoodOut(BaseModel):
    agent: str
    version: str
    note: str | None
    marked_at: datetime
    current_version: str | None = Field(
        description="What runs now: the highest of the versions with traces in the last "
        "day of the agent's traffic."
    )


class KnownGoodList(BaseModel):
    known_good: list[KnownGoodOut]


async def _mark_body(request: Request) -> KnownGoodIn:
    return await json_model(request, KnownGoodIn, MAX_MARK_BYTES, "the known-good version")


def mark_version(
    session: DbSession, project: str, agent: str, version: str, note: str | None, actor: str
) -> None:
    """Mark it, or HTTPException: 404 for no such project, 422 for a version unseen."""
    pid = _project(session, project)
    seen = session.scalar(
        sa.select(Trace.id)
        .where(Trace.project_id == pid, Trace.agent_name == agent, Trace.agent_version == version)
        .limit(1)
    )
    if seen is None:
        raise HTTPException(422, f"no traces of agent {agent!r} version {version!r} in {project!r}")
    connection = session.connection()
    known_good.mark(connection, pid, agent, version, note, datetime.now(UTC))
    audit.record(
        connection, actor, "known_good.mark", project_id=pid, target=agent,
        detail={"version": version, "note": note},
    )  # fmt: skip
    session.commit()


@router.put(
    "/api/known-good",
    response_model=KnownGoodOut,
    dependencies=[Depends(same_origin)],
    openapi_extra=json_body_doc(KnownGoodIn),
)
def put_mark(
    request: Request, session: DbSession, body: KnownGoodIn = Depends(_mark_body)
) -> KnownGoodOut:
    allow(request, body.project, "write")
    actor = request.state.principal.actor
    mark_version(session, body.project, body.agent, body.version, body.note, actor)
    (out,) = [m for m in _marks(session, body.project) if m.agent == body.agent]
    return out


@router.get("/api/known-good", response_model=KnownGoodList)
def list_marks(
    session: DbSession, project: str = Query("default", max_length=200)
) -> KnownGoodList:
    return KnownGoodList(known_good=_marks(session, project))


@router.delete(
    "/api/known-good", status_code=204, dependencies=[Depends(same_origin)], response_class=Response
)
def delete_mark(
    request: Request,
    session: DbSession,
    project: str = Query("default", max_length=200),
    agent: str = Query(..., min_length=1, max_length=200),
) -> Response:
    pid = _project(session, project)
    if not known_good.unmark(session.connection(), pid, agent):
        raise HTTPException(404, f"agent {agent!r} has no known-good version in {project!r}")
    actor = request.state.principal.actor
    audit.record(session.connection(), actor, "known_good.unmark", project_id=pid, target=agent)
    session.commit()
    return Response(status_code=204)


def _marks(session: DbSession, project: str) -> list[KnownGoodOut]:
    pid = _project(session, project)
    connection = session.connection()
    found = known_good.marks(connection, pid)
    running = known_good.current_versions(session, pid, found)
    return [
        KnownGoodOut(
            agent=mark.agent,
            version=mark.version,
            note=mark.note,
            marked_at=mark.marked_at,
            current_version=running[mark.agent],
        )
        for mark in found.values()
    ]


def _project(session: DbSession, project: str) -> int:
    pid = project_id(session.connection(), project)
    if pid is None:
        raise HTTPException(404, f"no project named {project!r}")
    return pid
