"""OTLP/HTTP trace receiver: POST /v1/traces, protobuf or JSON, on the API's port."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from sqlalchemy.exc import OperationalError
from starlette.responses import Response

from collector.body import Encoding, media_type
from collector.errors import IngestError, InvalidPayload, Overloaded, PayloadTooLarge
from collector.otlp_response import failure, success
from collector.service import IngestService
from store.projects import project_name_problem

log = logging.getLogger(__name__)

PROJECT_HEADER = "x-reasonlens-project"

router = APIRouter()


@router.post("/v1/traces", include_in_schema=False)
async def export_traces(request: Request) -> Response:
    service: IngestService = request.state.ingest
    retry_after = str(request.state.settings.retry_after_seconds)
    try:
        encoding = media_type(request.headers.get("content-type"))
    except IngestError as error:
        return failure(Encoding.JSON, error.status, error.message)
    try:
        project = _project(request)
        body = await _read_body(request, service.max_body_bytes)
        prepared = await service.export(
            body, encoding, request.headers.get("content-encoding"), project
        )
    except Overloaded as error:
        return failure(encoding, 503, error.message, {"Retry-After": retry_after})
    except IngestError as error:
        return failure(encoding, error.status, error.message)
    except OperationalError:
        # The database is unreachable or locked: retryable, so exporters keep the spans.
        log.exception("database unavailable while writing spans")
        return failure(encoding, 503, "database unavailable; retry", {"Retry-After": retry_after})
    return success(encoding, prepared.rejected, prepared.error_message)


def _project(request: Request) -> str | None:
    name = request.headers.get(PROJECT_HEADER)
    if name is None:
        return None
    problem = project_name_problem(name)
    if problem:
        raise InvalidPayload(f"header {PROJECT_HEADER}: {problem}")
    return name


async def _read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; the decompressed size is checked again later."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
