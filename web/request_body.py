"""Reading a request body whole, up to a limit, before anything parses it."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to be larger than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is larger than {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is larger than {limit:,} bytes")
    return bytes(body)


def text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, f"the body is not UTF-8 text ({error.reason})") from None


M = TypeVar("M", bound=BaseModel)


async def json_model(
    request: Request, model: type[M], limit: int, what: str, *, empty: bool = False
) -> M:
    """The body as ``model``: 415 unless JSON, 422 listing each problem. Validated here
    rather than by FastAPI, whose 422 would echo a NaN it cannot write. ``empty``: an
    empty body is the model's defaults."""
    body = await read_body(request, limit)
    if empty and not body.strip():
        return model.model_validate({})
    if media_type(request) != "application/json":
        raise HTTPException(415, f"send {what} as application/json")
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        problems = [
            {"type": p["type"], "loc": ["body", *p["loc"]], "msg": p["msg"]}
            for p in error.errors(include_url=False, include_input=False)
        ]
        raise HTTPException(422, problems) from None


def json_body_doc(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself (``json_model``):
    the schema FastAPI would have documented had it parsed the body."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"required": required, "content": content}}
