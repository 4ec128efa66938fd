"""Signing in and out of the dashboard.

GET  /login    the form (``?next=`` the page to return to)
POST /login    email and password: a session cookie and 303 to ``next``; 401 and the
               form again for a wrong pair, never saying which half was wrong; 429 after
               too many wrong ones (``web/sign_in_guard.py``)
POST /logout   ends the session here and in the store: 303 to /login

The cookie is HttpOnly (no script reads it), SameSite=Lax (other sites' forms do not
carry it) and Secure when the request came over TLS (directly, or through a proxy
that says so with X-Forwarded-Proto, which uvicorn trusts from 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from store import users
from store.principals import Credentials, Principal
from store.users import SESSION_LIFETIME
from web.access import SESSION_COOKIE, check_csrf
from web.forms import form_reader
from web.origin import same_origin
from web.sign_in_guard import SignInGuard
from web.templating import render

router = APIRouter(include_in_schema=False)

posted_form = form_reader(8 * 1024, fields=4)


def _next_page(target: str | None) -> str:
    """Only a path of this server: ``//evil.example`` or ``https://...`` go home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", {"next": _next_page(next), "error": None, "email": ""})


@router.post("/login", dependencies=[Depends(same_origin)])
async def login(
    request: Request, form: Annotated[dict[str, str], Depends(posted_form)]
) -> Response:
    email, password = form.get("email", ""), form.get("password", "")
    target = _next_page(form.get("next"))
    guard: SignInGuard = request.state.sign_in_guard
    address = request.client.host if request.client else ""
    wait = guard.wait_seconds(address, email)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes > 1)}."
        context = {"next": target, "error": error, "email": email}
        answer = render(request, "login.html", context, status_code=429)
        answer.headers["Retry-After"] = str(wait)
        return answer
    async with guard.checks:
        token = await asyncio.to_thread(_sign_in, request, email, password)
    if token is None:
        guard.failed(address, email)
        context = {"next": target, "error": "Wrong email or password.", "email": email}
        return render(request, "login.html", context, status_code=401)
    guard.succeeded(email)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _sign_in(request: Request, email: str, password: str) -> str | None:
    with request.state.engine.begin() as connection:
        return users.sign_in(connection, email, password)


@router.post("/logout", dependencies=[Depends(same_origin)])
async def logout(request: Request) -> Response:
    """The form token is checked here: /logout is open to those already signed out."""
    principal: Principal = request.state.principal
    token = principal.session_token
    if token is not None:
        await check_csrf(request, token)
        credentials: Credentials = request.state.credentials
        await asyncio.to_thread(_sign_out, request, token)
        credentials.forget_session(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


def _sign_out(request: Request, token: str) -> None:
    with request.state.engine.begin() as connection:
        users.sign_out(connection, token)
