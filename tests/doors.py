"""One OTLP request through each door of a running server: HTTP protobuf, HTTP JSON, gRPC.

Tests send the same message through every door and compare what each answered and
stored: the limits, refusals and redaction must not depend on the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import sqlalchemy as sa
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from store.models import LogRecord, Project, Span
from tests.otlp import JSON, PROTOBUF, otlp_json
from tests.server import Server

DOORS = ("http-protobuf", "http-json", "grpc")
_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


@dataclass(frozen=True)
class Answer:
    """What a door answered: ``status`` is the HTTP status, or the gRPC code's name."""

    status: int | str
    rejected: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (200, "OK")


def send(server: Server, door: str, message: Message, project: str) -> Answer:
    signal = "logs" if isinstance(message, ExportLogsServiceRequest) else "traces"
    if door == "grpc":
        return _grpc(server, signal, message.SerializeToString(), project)
    json = door == "http-json"
    body = otlp_json(message) if json else message.SerializeToString()
    headers = {**(JSON if json else PROTOBUF), "x-reasonlens-project": project}
    response = httpx.post(f"{server.url}/v1/{signal}", content=body, headers=headers, timeout=60)
    return http_answer(response, signal)


def http_answer(response: httpx.Response, signal: str) -> Answer:
    json = response.headers.get("content-type", "").startswith("application/json")
    if response.status_code != 200:
        if json:
            return Answer(response.status_code, message=str(response.json().get("message")))
        return Answer(response.status_code, message=Status.FromString(response.content).message)
    if json:
        partial = response.json().get("partialSuccess", {})
        key = "rejectedSpans" if signal == "traces" else "rejectedLogRecords"
        return Answer(200, int(partial.get(key, 0)), partial.get("errorMessage", ""))
    return _partial(200, signal, response.content)


def _grpc(server: Server, signal: str, body: bytes, project: str) -> Answer:
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary(_GRPC_METHODS[signal])
        try:
            reply = call(body, metadata=(("x-reasonlens-project", project),), timeout=60)
        except grpc.RpcError as error:
            return Answer(error.code().name, message=str(error.details()))
    return _partial("OK", signal, reply)


def _partial(status: int | str, signal: str, body: bytes) -> Answer:
    if signal == "traces":
        traces = ExportTraceServiceResponse.FromString(body).partial_success
        return Answer(status, traces.rejected_spans, traces.error_message)
    logs = ExportLogsServiceResponse.FromString(body).partial_success
    return Answer(status, logs.rejected_log_records, logs.error_message)


def refused_as_too_large(answer: Answer) -> bool:
    return answer.status in (413, "RESOURCE_EXHAUSTED")


def refused_as_invalid(answer: Answer) -> bool:
    return answer.status in (400, "INVALID_ARGUMENT")


def stored_spans(server: Server, project: str) -> list[dict[str, Any]]:
    """Every column of the project's spans but the keys, by span id."""
    return _rows(server, Span, project, Span.span_id)


def stored_logs(server: Server, project: str) -> list[dict[str, Any]]:
    return _rows(server, LogRecord, project, LogRecord.time_ns)


def _rows(
    server: Server, model: type[Span] | type[LogRecord], project: str, order: Any
) -> list[dict[str, Any]]:
    table = model.__table__
    columns = [column for column in table.columns if column.name not in ("id", "project_id")]
    query = (
        sa.select(*columns)
        .join(Project, Project.id == table.c.project_id)
        .where(Project.name == project)
        .order_by(order)
    )
    with server.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
