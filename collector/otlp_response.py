"""OTLP responses, encoded like the request (protobuf or JSON), as the spec requires."""

from __future__ import annotations

import orjson
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.responses import Response

from collector.body import Encoding

# HTTP status -> google.rpc.Code, for the Status body of an error.
_GRPC_CODES = {400: 3, 413: 8, 415: 3, 503: 14, 500: 13}
# The spec asks responses to stay at or under 4 MiB; messages are the only variable part.
_MAX_MESSAGE = 64 * 1024


def success(encoding: Encoding, rejected: int, error_message: str) -> Response:
    message = error_message[:_MAX_MESSAGE]
    if encoding is Encoding.JSON:
        body = (
            {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}
            if rejected or message
            else {}
        )
        return Response(orjson.dumps(body), 200, media_type=encoding.value)
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return Response(response.SerializeToString(), 200, media_type=encoding.value)


def failure(
    encoding: Encoding, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    code = _GRPC_CODES.get(status, 13)
    message = message[:_MAX_MESSAGE]
    if encoding is Encoding.JSON:
        body = orjson.dumps({"code": code, "message": message})
    else:
        body = Status(code=code, message=message).SerializeToString()
    return Response(body, status, headers=headers, media_type=encoding.value)
