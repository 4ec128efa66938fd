"""Who may use which page and API route, and in which project.

Three steps, each in one place:

1. ``AccessMiddleware`` finds who a request speaks for: an API key (``Authorization:
   Bearer`` or ``x-api-key``), a session cookie, or, while the store has no user, the
   open local mode. Without one once sign-in is on, the API answers 401 and a page
   sends the browser to ``/login``. A request from someone limited to some projects
   that names no project is made to name their first one: every list then shows one
   project they may see, never all.
2. ``authorize``, a dependency of every API and page route, checks what the request
   is about against what its principal may do there: each ``project`` parameter
   (``a.project`` too), each id in the path or query (``web/access_targets.py`` finds
   its project), the level the method needs (read, write, or admin for settings), and
   the CSRF token of a signed-in browser's form.
3. Routes whose project is in their body (a suite's YAML, a price's JSON) call
   ``allow`` with it once they have read it. ``check_routes`` refuses to start an app
   with a route that none of these covers, so a new route cannot skip the check.

A project the principal may not read is answered as if it did not exist (404), so
ids and names of other teams' projects cannot be probed.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from store.principals import ANONYMOUS, LOCAL, Credentials, Principal, presented_key
from web.access_targets import ID_PARAMS, PROJECT_SCOPED_PARAMS, target_project
from web.csrf import csrf_token
from web.forms import CSRF_FIELD
from web.request_body import media_type
from web.templating import render

SESSION_COOKIE = "reasonlens_session"
CSRF_HEADER = "x-csrf-token"
# Served to anyone: signing in and out, the health check, the API schema.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/openapi.json"})
# Not looked at here: static files, and OTLP (/v1/), which checks its keys itself
# (collector/identity.py) for HTTP and gRPC alike.
PASS_PREFIXES = ("/static/", "/v1/")
# Changing these needs the project's admin role (or a key's admin scope); so does
# reading its keys.
ADMIN_PATHS = ("/settings/", "/api/prices", "/api/reprice", "/api/budgets")
ADMIN_READS = ("/settings/keys",)
# Routes with their project in the request body: the handler calls ``allow``.
BODY_PROJECT_ROUTES = frozenset(
    {
        ("POST", "/api/suites"),
        ("POST", "/api/scores"),
        ("POST", "/api/prices"),
        ("POST", "/api/reprice"),
        ("POST", "/api/budgets"),
        ("PUT", "/api/known-good"),
        ("POST", "/api/alert-rules"),
        ("POST", "/evals/suites"),
        ("POST", "/settings/prices"),
        ("POST", "/settings/prices/reprice"),
        ("POST", "/settings/budgets"),
        ("POST", "/settings/keys"),
        ("POST", "/known-good"),
        ("POST", "/alerts/rules"),
    }
)
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A form is read here for its CSRF token before its route reads it with its own limit.
MAX_CSRF_FORM_BYTES = 4 * 1024 * 1024


def _for_machines(path: str) -> bool:
    return path.startswith("/api/") or path.endswith(".csv")


class AccessMiddleware:
    """Step 1: the principal, on ``request.state.principal``; 401 or /login without one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PASS_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        credentials: Credentials = state["credentials"]
        request = Request(scope)
        principal, problem = await asyncio.to_thread(_identify, credentials, request)
        state["principal"] = principal or ANONYMOUS
        if scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if principal is None:
            await _refuse(request, problem)(scope, receive, send)
            return
        if not principal.everything:
            default = principal.default_project()
            if default is None:
                await _no_project(request, principal)(scope, receive, send)
                return
            query = QueryParams(scope["query_string"].decode("latin-1"))
            if scope["method"] in ("GET", "HEAD") and "project" not in query:
                extra = urlencode({"project": default})
                given = scope["query_string"].decode("latin-1")
                scope["query_string"] = (f"{given}&{extra}" if given else extra).encode()
        await self.app(scope, receive, send)


def _identify(credentials: Credentials, request: Request) -> tuple[Principal | None, str]:
    """The request's principal, or None and why not."""
    secret = presented_key(request.headers.get)
    if secret is not None:
        found = credentials.key(secret)
        return (found, "") if found is not None else (None, "invalid or revoked API key")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = credentials.session(token)
        if found is not None:
            return found, ""
    if not credentials.sign_in_required():
        return LOCAL, ""
    return None, "sign in, or send an API key: Authorization: Bearer KEY or x-api-key: KEY"


def _refuse(request: Request, problem: str) -> Response:
    path = request.url.path
    if _for_machines(path) or request.method != "GET":
        return JSONResponse(
            {"detail": problem}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _no_project(request: Request, principal: Principal) -> Response:
    who = principal.user or "this key"
    message = (
        f"{who} has no role in any project yet: an admin can grant one with "
        "`reasonlens users grant EMAIL PROJECT ROLE`"
        if principal.user
        else f"{who} may not read anything here (its scopes allow ingest only)"
    )
    if _for_machines(request.url.path):
        return JSONResponse({"detail": message}, status_code=403)
    context = {"status_code": 403, "title": "Forbidden", "message": message}
    return render(request, "error.html", context, status_code=403)


def level_for(method: str, path: str) -> str:
    """What a request needs: reading, writing, or a project admin's settings."""
    if path.startswith(ADMIN_READS) or (method in _UNSAFE and path.startswith(ADMIN_PATHS)):
        return "admin"
    return "write" if method in _UNSAFE else "read"


async def authorize(request: Request) -> None:
    """Step 2, a dependency of every API and page route."""
    principal: Principal = request.state.principal
    route = request.scope["route"]
    level = level_for(request.method, route.path)
    if request.method in _UNSAFE and principal.session_token is not None:
        await check_csrf(request, principal.session_token)
    if principal.everything:
        return
    query = request.query_params
    for name, value in query.multi_items():
        if name == "project" or name.endswith(".project"):
            allow(request, value, level)
    if request.method in _UNSAFE and "project" not in query and _takes_project(route):
        allow(request, None, level)  # the route's default project is not for them to assume
    targets = [(name, value) for name, value in request.path_params.items()]
    targets += [(n, v) for n, v in request.query_params.multi_items() if n in ID_PARAMS]
    for name, value in targets:
        if name in ID_PARAMS:
            project = await asyncio.to_thread(target_project, request, name, value)
            if project is not None and not principal.may(project, "read"):
                raise HTTPException(404, f"{name} {value}: not found")  # names no project
            if project is not None:
                allow(request, project, level)


def allow(request: Request, project: str | None, level: str) -> None:
    """Step 3: 404 unless the principal may at least read ``project`` (None: every
    project), 403 unless it may do ``level`` there."""
    principal: Principal = request.state.principal
    if principal.everything:
        return
    if project is None:
        raise HTTPException(400, "name a project: this key or user may not act on all of them")
    if not principal.may(project, "read"):
        raise HTTPException(404, f"no project named {project!r}")
    if not principal.may(project, level):
        held = "this key's scopes do" if principal.user is None else "your role does"
        raise HTTPException(403, f"in project {project!r}, {held} not allow {level}")


async def check_csrf(request: Request, session_token: str) -> None:
    """A signed-in browser's change must carry the token, in the ``csrf`` form field
    (every form of the dashboard has it) or the ``x-csrf-token`` header."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and media_type(request) == "application/x-www-form-urlencoded":
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > MAX_CSRF_FORM_BYTES:
            limit = f"{MAX_CSRF_FORM_BYTES:,}"
            raise HTTPException(413, f"a form must state its length, at most {limit} bytes")
        # Read through Starlette's cache: the route reads the same body after this.
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        sent = fields.get(CSRF_FIELD, [None])[0]
    if sent is None or not hmac.compare_digest(sent, csrf_token(session_token)):
        raise HTTPException(403, "missing or stale form token: reload the page and try again")


def check_routes(app: FastAPI) -> None:
    """Refuse an app with a route ``authorize`` does not know how to check."""
    problems: list[str] = []
    for route in iter_route_contexts(app.routes):
        path = str(route.path)
        if not isinstance(route.original_route, APIRoute) or path in PUBLIC_PATHS:
            continue
        if path.startswith(PASS_PREFIXES):
            continue
        params = {param.name for param in route.dependant.path_params}
        unknown = params - ID_PARAMS - PROJECT_SCOPED_PARAMS
        if unknown:
            problems.append(f"{path}: no project lookup for {sorted(unknown)}")
        for method in set(route.methods or ()) & _UNSAFE:
            found = params & ID_PARAMS or (method, path) in BODY_PROJECT_ROUTES
            if not found and not _takes_project(route):
                problems.append(f"{method} {path}: no way to find its project")
        if not any(getattr(d, "dependency", None) is authorize for d in route.dependencies):
            problems.append(f"{path}: not behind authorize")
    if problems:
        raise RuntimeError("routes without access checks: " + "; ".join(problems))


def _takes_project(route: Any) -> bool:
    return any(param.name == "project" for param in route.dependant.query_params)
