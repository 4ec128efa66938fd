"""``POST /known-good``: the overview's "mark known good" button.

Marks the agent version (as ``PUT /api/known-good`` does, with the same checks) and
answers 303 back to the project's overview.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from web.access import allow
from web.api_known_good import KnownGoodIn, mark_version
from web.deps import DbSession
from web.forms import Refused, form_reader, validated
from web.origin import same_origin
from web.templating import query_string

router = APIRouter()

LABELS = {"project": "Project", "agent": "Agent", "version": "Version", "note": "Note"}
posted_form = form_reader(8 * 1024, fields=8)


@router.post("/known-good", dependencies=[Depends(same_origin)])
def mark(
    request: Request, session: DbSession, form: Annotated[dict[str, str], Depends(posted_form)]
) -> Response:
    body = validated(KnownGoodIn, form, LABELS)
    if isinstance(body, Refused):
        raise HTTPException(422, "; ".join(body.problems))
    allow(request, body.project, "write")
    actor = request.state.principal.actor
    mark_version(session, body.project, body.agent, body.version, body.note, actor)
    return RedirectResponse("/" + query_string({"project": body.project}), status_code=303)
