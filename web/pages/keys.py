"""``/settings/keys``: a project's API keys, made and revoked by its admins.

GET  /settings/keys?project=         the keys (prefix, scopes, last use), a form for one
POST /settings/keys                  make one: the page again, showing the key once
POST /settings/keys/{key_id}/revoke  revoke one: 303 back to its project's page

The same store functions as ``reasonlens keys`` make and revoke them, and the audit
log names who did it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from store import api_keys
from store.models import DEFAULT_PROJECT, ApiKey, Project
from store.principals import Principal
from web.access import allow
from web.deps import DbSession
from web.forms import form_reader
from web.origin import same_origin
from web.pages.context import PageProject, form_project, page_project
from web.params import RowId
from web.templating import query_string, render

router = APIRouter()

posted_form = form_reader(4 * 1024, fields=8)


@router.get("/settings/keys", response_class=HTMLResponse)
def keys_page(
    request: Request,
    session: DbSession,
    project: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    return _page(request, session, page_project(session, project or None))


@router.post("/settings/keys", dependencies=[Depends(same_origin)])
def create(
    request: Request, session: DbSession, form: Annotated[dict[str, str], Depends(posted_form)]
) -> Response:
    project = form.get("project") or DEFAULT_PROJECT
    allow(request, project, "admin")
    scopes = [scope for scope in api_keys.SCOPES if form.get(f"scope_{scope}")]
    principal: Principal = request.state.principal
    try:
        with request.state.engine.begin() as connection:
            made = api_keys.create_key(
                connection, project, form.get("name", ""), scopes, actor=principal.actor
            )
    except api_keys.KeyProblem as error:
        chosen = form_project(session, project)
        return _page(request, session, chosen, 422, problem=str(error), form=form)
    return _page(request, session, form_project(session, project), 201, made=made)


@router.post("/settings/keys/{key_id}/revoke", dependencies=[Depends(same_origin)])
def revoke(request: Request, session: DbSession, key_id: RowId) -> Response:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise HTTPException(404, f"no key {key_id}")
    principal: Principal = request.state.principal
    with request.state.engine.begin() as connection:
        api_keys.revoke_key(connection, key.prefix, actor=principal.actor)
    project = session.get_one(Project, key.project_id).name
    return RedirectResponse("/settings/keys" + query_string({"project": project}), 303)


def _page(
    request: Request,
    session: Session,
    chosen: PageProject,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    name = chosen.name or DEFAULT_PROJECT
    keys = api_keys.list_keys(session.connection(), name)
    context = {
        "project": chosen,
        "view": {"project": name},
        "keys": keys,
        "scopes": api_keys.SCOPES,
        "made": extra.get("made"),
        "problem": extra.get("problem"),
        "form": extra.get("form", {}),
    }
    return render(request, "settings_keys.html", context, status_code=status_code)
