"""OTLP/HTTP receiver: POST /v1/traces and /v1/logs, protobuf or JSON, on the API's port."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from sqlalchemy.exc import OperationalError
from starlette.responses import Response

from collector.body import Encoding, Signal, media_type
from collector.errors import IngestError, Overloaded, PayloadTooLarge
from collector.identity import ingest_project
from collector.otlp_response import failure, success
from collector.service import IngestService

log = logging.getLogger(__name__)

router = APIRouter()


@router.post("/v1/traces", include_in_schema=False)
async def export_traces(request: Request) -> Response:
    return await _export(request, Signal.TRACES)


@router.post("/v1/logs", include_in_schema=False)
async def export_logs(request: Request) -> Response:
    return await _export(request, Signal.LOGS)


async def _export(request: Request, signal: Signal) -> Response:
    service: IngestService = request.state.ingest
    retry_after = str(request.state.settings.retry_after_seconds)
    try:
        encoding = media_type(request.headers.get("content-type"))
    except IngestError as error:
        return failure(Encoding.JSON, error.status, error.message)
    try:
        project = await asyncio.to_thread(
            ingest_project, request.state.credentials, request.headers.get
        )
        body = await _read_body(request, service.limits.max_body_bytes)
        prepared = await service.export(
            signal, body, encoding, request.headers.get("content-encoding"), project
        )
    except Overloaded as error:
        return failure(encoding, 503, error.message, {"Retry-After": retry_after})
    except IngestError as error:
        return failure(encoding, error.status, error.message)
    except OperationalError:
        # The database is unreachable or locked: retryable, so exporters keep the data.
        log.exception("database unavailable while writing %s", signal.value)
        return failure(encoding, 503, "database unavailable; retry", {"Retry-After": retry_after})
    return success(signal, encoding, prepared.rejected, prepared.error_message)


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
