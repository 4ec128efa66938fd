"""OTLP logs: GenAI content events attach to their span, whichever arrives first."""

from __future__ import annotations

import json
from typing import Any

import grpc
import httpx
import sqlalchemy as sa
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from sqlalchemy.orm import Session

from store.models import LogRecord, Project
from tests.otlp import (
    JSON,
    Ids,
    LogSpec,
    SpanSpec,
    key_values,
    logs_request,
    parse_logs_response,
    post,
    post_logs,
    request,
)
from tests.paths import SHARED_FIXTURES
from tests.server import Server

TOOL_CALL = {
    "id": "call_7",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def get_trace(server: Server, trace_id: str, project: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": project})
    assert response.status_code == 200, response.text
    return dict(response.json())


def stored_records(server: Server, project: str) -> list[LogRecord]:
    with Session(server.engine) as session:
        return list(
            session.scalars(
                sa.select(LogRecord)
                .join(Project, Project.id == LogRecord.project_id)
                .where(Project.name == project)
                .order_by(LogRecord.time_ns, LogRecord.id)
            )
        )


def count_records(server: Server, project: str) -> int:
    with server.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(LogRecord)
                .join(Project, Project.id == LogRecord.project_id)
                .where(Project.name == project)
            ).scalar_one()
        )


def test_sdk_log_events_fill_the_span_messages(server: Server, project: str) -> None:
    """The shape openai-v2 and other GenAI instrumentations emit by default: content as
    log events on /v1/logs, the span carrying only model and usage."""
    resource = Resource({"service.name": "weather-bot", "reasonlens.project": project})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces"))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs"))
    )
    logger = logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.usage.input_tokens", 31)
        span.set_attribute("gen_ai.usage.output_tokens", 9)
        trace_id = format(span.get_span_context().trace_id, "032x")
        span_id = format(span.get_span_context().span_id, "016x")
        common = {"gen_ai.system": "openai"}
        logger.emit(
            event_name="gen_ai.system.message",
            body={"content": "You answer weather questions."},
            attributes=common,
            severity_number=SeverityNumber.INFO,
        )
        logger.emit(
            event_name="gen_ai.user.message",
            body={"content": "Weather in Paris?"},
            attributes=common,
        )
        logger.emit(
            event_name="gen_ai.choice",
            body={
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant"},
                "tool_calls": [TOOL_CALL],
            },
            attributes=common,
        )
    tracer_provider.shutdown()
    logger_provider.shutdown()

    trace = get_trace(server, trace_id, project)
    (chat,) = trace["spans"]
    assert chat["span_id"] == span_id
    assert chat["input_messages"] == [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert chat["system_instructions"] == "You answer weather questions."
    assert chat["output_messages"] == [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_7", "name": "get_weather", "arguments": '{"city": "Paris"}'}
            ],
        }
    ]
    # Display text and finish reasons come from the events too, as they would from the span.
    assert chat["input_text"] == "Weather in Paris?"
    assert chat["output_text"] == 'get_weather({"city": "Paris"})'
    assert chat["finish_reasons"] == ["tool_calls"]
    assert [record["event_name"] for record in chat["logs"]] == [
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.choice",
    ]
    assert chat["logs"][1]["body"] == {"content": "Weather in Paris?"}
    assert trace["logs"] == []


def chat_span(ids: Ids, trace: str, span: str, **attributes: Any) -> SpanSpec:
    return SpanSpec(
        trace,
        span,
        "chat",
        1_000,
        2_000,
        attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", **attributes},
    )


def test_logs_that_arrive_before_their_span_attach_when_it_comes(
    server: Server, project: str
) -> None:
    ids = Ids("logs first")
    trace, span = ids.trace(), ids.span()
    logs = logs_request(
        [
            LogSpec("gen_ai.user.message", {"content": "hello"}, trace, span, time=1_100),
            LogSpec(
                "gen_ai.choice",
                {"index": 0, "message": {"content": "hi!"}},
                trace,
                span,
                time=1_900,
            ),
        ]
    )
    assert post_logs(server.url, logs, project=project).status_code == 200
    assert count_records(server, project) == 2
    missing = httpx.get(f"{server.url}/api/traces/{trace}", params={"project": project})
    assert missing.status_code == 404  # no span yet: stored, waiting

    assert post(server.url, request([chat_span(ids, trace, span)]), project=project).is_success
    (chat,) = get_trace(server, trace, project)["spans"]
    assert chat["input_messages"] == [{"role": "user", "content": "hello"}]
    assert chat["output_messages"] == [{"role": "assistant", "content": "hi!"}]


def test_a_span_with_its_own_messages_keeps_them(server: Server, project: str) -> None:
    ids = Ids("own messages")
    trace, span = ids.trace(), ids.span()
    own = [{"role": "user", "parts": [{"type": "text", "content": "from the span"}]}]
    spec = chat_span(ids, trace, span, **{"gen_ai.input.messages": json.dumps(own)})
    assert post(server.url, request([spec]), project=project).is_success
    logs = logs_request([LogSpec("gen_ai.user.message", {"content": "from a log"}, trace, span)])
    assert post_logs(server.url, logs, project=project).is_success
    (chat,) = get_trace(server, trace, project)["spans"]
    assert chat["input_messages"] == [{"role": "user", "content": "from the span"}]
    assert chat["logs"][0]["input_messages"] == [{"role": "user", "content": "from a log"}]


def test_operation_details_event_carries_structured_messages(server: Server, project: str) -> None:
    ids = Ids("details")
    trace, span = ids.trace(), ids.span()
    assert post(server.url, request([chat_span(ids, trace, span)]), project=project).is_success
    details = LogSpec(
        "gen_ai.client.inference.operation.details",
        trace_id=trace,
        span_id=span,
        attributes={
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": "2+2?"}]}
            ],
            "gen_ai.output.messages": [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": "4"}],
                    "finish_reason": "stop",
                }
            ],
        },
    )
    assert post_logs(server.url, logs_request([details]), project=project).is_success
    (chat,) = get_trace(server, trace, project)["spans"]
    assert chat["input_messages"] == [{"role": "user", "content": "2+2?"}]
    assert chat["output_messages"][0]["content"] == "4"


def test_a_retried_export_stores_nothing_twice(server: Server, project: str) -> None:
    ids = Ids("retry")
    trace, span = ids.trace(), ids.span()
    body = logs_request(
        [LogSpec("gen_ai.user.message", {"content": f"m{i}"}, trace, span) for i in range(3)]
    ).SerializeToString()
    for _ in range(3):
        assert post_logs(server.url, body, project=project).status_code == 200
    assert count_records(server, project) == 3


def test_identical_records_in_one_request_are_all_kept(server: Server, project: str) -> None:
    """A conversation can repeat itself within one clock tick; a retry still dedupes."""
    ids = Ids("repeats")
    trace, span = ids.trace(), ids.span()
    same = LogSpec("gen_ai.user.message", {"content": "yes"}, trace, span, time=5)
    body = logs_request([same, same, same]).SerializeToString()
    for _ in range(2):
        assert post_logs(server.url, body, project=project).is_success
    assert count_records(server, project) == 3


def test_records_differing_only_in_their_scope_are_kept_apart(server: Server, project: str) -> None:
    record = LogSpec("app.event", "same body", time=7)
    for tenant in ("a", "b"):
        message = logs_request([record])
        message.resource_logs[0].scope_logs[0].scope.attributes.extend(
            key_values({"tenant": tenant})
        )
        assert post_logs(server.url, message, project=project).is_success
    assert sorted(r.scope_attributes["tenant"] for r in stored_records(server, project)) == [
        "a",
        "b",
    ]


def test_records_without_a_span_show_on_the_trace(server: Server, project: str) -> None:
    ids = Ids("trace level")
    trace, span = ids.trace(), ids.span()
    assert post(server.url, request([chat_span(ids, trace, span)]), project=project).is_success
    loose = logs_request(
        [
            LogSpec("app.audit", "user exported a report", trace, None),
            LogSpec("app.audit", "unknown span", trace, ids.span()),
        ]
    )
    assert post_logs(server.url, loose, project=project).is_success
    detail = get_trace(server, trace, project)
    assert [record["body"] for record in detail["logs"]] == [
        "user exported a report",
        "unknown span",
    ]
    assert detail["spans"][0]["logs"] == []


def test_shared_json_fixtures_are_stored_as_sent(server: Server, project: str) -> None:
    headers = {**JSON, "x-reasonlens-project": project}
    for name in ("events.json", "logs.json"):
        body = (SHARED_FIXTURES / "otlp-proto-examples" / name).read_bytes()
        response = httpx.post(f"{server.url}/v1/logs", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {}
    records = stored_records(server, project)
    by_event = {record.event_name: record for record in records}
    event = by_event["browser.page_view"]
    assert event.body["type"] == 0  # intValue "0", a string on the wire
    assert event.body["title"] == "Free Online GUID Generator"
    assert event.severity_number == 9
    assert event.service_name == "my.service"
    assert (event.scope_name, event.scope_version) == ("my.library", "1.0.0")
    assert event.input_messages is None
    log = by_event[None]
    assert (log.trace_id, log.span_id) == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")
    assert log.body == "Example log record"
    assert log.attributes["int.attribute"] == 10
    assert log.attributes["double.attribute"] == 637.704
    assert log.time_ns == 1544712660300000000


def test_malformed_records_are_refused_one_by_one(server: Server, project: str) -> None:
    ids = Ids("malformed")
    message = logs_request(
        [
            LogSpec("gen_ai.user.message", {"content": "kept"}, ids.trace(), ids.span()),
            LogSpec("gen_ai.user.message", {"content": "bad severity"}, severity_number=99),
        ]
    )
    message.resource_logs[0].scope_logs[0].log_records.add().trace_id = b"\x01\x02\x03"
    response = post_logs(server.url, message, project=project)
    assert response.status_code == 200
    partial = parse_logs_response(response).partial_success
    assert partial.rejected_log_records == 2
    assert "trace_id must be empty or 16 bytes" in partial.error_message
    assert "severity_number 99" in partial.error_message
    assert count_records(server, project) == 1

    as_json = {
        "resourceLogs": [
            {"scopeLogs": [{"logRecords": [{"traceId": "xyz", "body": {"stringValue": "x"}}]}]}
        ]
    }
    headers = {**JSON, "x-reasonlens-project": project}
    reply = httpx.post(f"{server.url}/v1/logs", content=json.dumps(as_json), headers=headers)
    assert reply.status_code == 200
    assert reply.json()["partialSuccess"]["rejectedLogRecords"] == "1"


def test_bad_requests_are_refused_whole(server: Server, project: str) -> None:
    headers = {**JSON, "x-reasonlens-project": project}
    structural = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}
    for body, status, text in (
        (b"{not json", 400, "not valid JSON"),
        (json.dumps(structural).encode(), 400, "$.resourceLogs[0].scopeLogs[0].logRecords[0]"),
    ):
        response = httpx.post(f"{server.url}/v1/logs", content=body, headers=headers)
        assert response.status_code == status
        assert text in response.json()["message"]
    protobuf = post_logs(server.url, b"\xff\xff garbage", project=project)
    assert protobuf.status_code == 400
    assert count_records(server, project) == 0


def test_grpc_logs_service_takes_the_sdk_exporter(server: Server, project: str) -> None:
    provider = LoggerProvider(resource=Resource({"service.name": "grpc-logs"}))
    exporter = GrpcLogExporter(
        endpoint=server.grpc_target,
        insecure=True,
        compression=grpc.Compression.Gzip,
        headers=(("x-reasonlens-project", project),),
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("tests")
    for i in range(3):
        logger.emit(event_name="gen_ai.user.message", body={"content": f"q{i}"})
    provider.shutdown()
    records = stored_records(server, project)
    assert [record.input_messages for record in records] == [
        [{"role": "user", "content": f"q{i}"}] for i in range(3)
    ]
    assert {record.service_name for record in records} == {"grpc-logs"}
