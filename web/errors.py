"""Errors as pages for people and as JSON for programs.

The API (``/api``) and OTLP (``/v1``) keep FastAPI's JSON errors; every other path is
the dashboard, where an error is a page that says what went wrong, never a stack
trace (the server log has that).
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from web.templating import render

log = logging.getLogger(__name__)

_MACHINE_PREFIXES = ("/api/", "/v1/", "/openapi.json", "/healthz")


def _for_machines(request: Request) -> bool:
    return request.url.path.startswith(_MACHINE_PREFIXES)


def error_page(request: Request, status_code: int, message: str) -> Response:
    title = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else ""
    return render(
        request,
        "error.html",
        {"status_code": status_code, "title": title, "message": message},
        status_code=status_code,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if _for_machines(request):
            return await http_exception_handler(request, error)
        return error_page(request, error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if _for_machines(request):
            return await request_validation_exception_handler(request, error)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}"
            for problem in error.errors()
        )
        return error_page(request, 400, f"Bad request: {problems}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        if _for_machines(request):
            return Response("Internal Server Error", 500, media_type="text/plain")
        return error_page(request, 500, "Something went wrong; the server log has the details.")
