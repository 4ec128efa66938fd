"""OTLP responses, encoded like the request (protobuf or JSON), as the spec requires."""

from __future__ import annotations

import orjson
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.responses import Response

from collector.body import Encoding, Signal

# HTTP status -> google.rpc.Code, for the Status body of an error.
_GRPC_CODES = {400: 3, 413: 8, 415: 3, 503: 14, 500: 13}
# The spec asks responses to stay at or under 4 MiB; messages are the only variable part.
_MAX_MESSAGE = 64 * 1024


def success(signal: Signal, encoding: Encoding, rejected: int, error_message: str) -> Response:
    if encoding is Encoding.JSON:
        message = error_message[:_MAX_MESSAGE]
        key = "rejectedSpans" if signal is Signal.TRACES else "rejectedLogRecords"
        body = (
            {"partialSuccess": {key: str(rejected), "errorMessage": message}}
            if rejected or message
            else {}
        )
        return Response(orjson.dumps(body), 200, media_type=encoding.value)
    response = export_response(signal, rejected, error_message)
    return Response(response.SerializeToString(), 200, media_type=encoding.value)


def export_response(signal: Signal, rejected: int, error_message: str) -> Message:
    """The protobuf Export*ServiceResponse, with partial_success when anything was refused."""
    message = error_message[:_MAX_MESSAGE]
    if signal is Signal.TRACES:
        traces = ExportTraceServiceResponse()
        if rejected or message:
            traces.partial_success.rejected_spans = rejected
            traces.partial_success.error_message = message
        return traces
    logs = ExportLogsServiceResponse()
    if rejected or message:
        logs.partial_success.rejected_log_records = rejected
        logs.partial_success.error_message = message
    return logs


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
