"""Redaction at ingest: personal data sent through the real SDK reaches no table.

A server with every preset and a pattern of its own; an agent run exported over OTLP/HTTP
protobuf, OTLP/HTTP JSON and gRPC, spans and log events, with personal data in every
place a client can put text. Then every column of every table is read back: no raw
value is found anywhere, the masks are, and the text around them is kept (the prompt
still read as messages).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, Status, StatusCode, set_span_in_context

from store.models import Base, Project, Span
from tests.databases import fresh_database
from tests.server import Server
from tests.test_sdk_exporters import Exporters, grpc_protobuf, http_json, http_protobuf

EMAIL = "jane.doe@example.com"
EMAIL_ACCENTED = "josé.núñez@example.org"
PHONE = "(415) 555-0142"
PHONE_INTL = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
SSN = "123-45-6789"
IP = "203.0.113.42"
SECRET = "sk-proj-AbCdEf0123456789GhIjKlMnOp"
EMPLOYEE = "EMP-004217"
# What no table may hold, in any form a value could be stored in.
NEEDLES = (
    EMAIL, "jane.doe", EMAIL_ACCENTED, "jos\\u00e9.n\\u00fa\\u00f1ez@", "555-0142", "5550142",
    "7946 0958", CARD, "4111111111111111", SSN, "123456789", IP, SECRET, "AbCdEf0123456789",
    EMPLOYEE,
)  # fmt: skip
PATTERNS = '["email", "phone", "credit_card", "us_ssn", "ipv4", "secret", "employee=EMP-[0-9]{6}"]'
DOORS: list[Exporters] = [http_protobuf, http_json, grpc_protobuf]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        running = Server(url, env={"REASONLENS_REDACT_PATTERNS": PATTERNS}).start()
        try:
            yield running
        finally:
            running.close()


def run_agent(exporters: tuple[Any, Any]) -> None:
    """An agent run with personal data in every place a client can put text."""
    span_exporter, log_exporter = exporters
    resource = Resource({"service.name": "support", "deployment.owner": EMAIL})
    tracers = TracerProvider(resource=resource)
    tracers.add_span_processor(SimpleSpanProcessor(span_exporter))
    loggers = LoggerProvider(resource=resource)
    loggers.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    tracer = tracers.get_tracer("support-agent", "1.0", attributes={"maintainer": EMAIL})
    logger = loggers.get_logger("support-agent")
    said = f"I am {EMAIL_ACCENTED}, card {CARD}, call {PHONE}"
    prompt = [{"role": "user", "parts": [{"type": "text", "content": said}]}]
    answer = {"role": "assistant",
              "parts": [{"type": "text", "content": f"Refund sent to {EMAIL}"}]}  # fmt: skip
    with tracer.start_as_current_span(
        f"invoke_agent support for {EMAIL}",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "support",
            "user.email": EMAIL,
            "client.address": IP,
            "notes": [f"ssn {SSN}", {"badge": EMPLOYEE, "phone": PHONE_INTL}],
            # As Python's json.dumps writes it by default: non-ASCII as \\u escapes.
            "gen_ai.input.messages": json.dumps(prompt),
            "gen_ai.output.messages": json.dumps([answer]),
        },
    ) as agent:
        context = set_span_in_context(agent)
        with tracer.start_as_current_span(
            "chat gpt-4o",
            context=context,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.system_instructions": f"Escalate to {EMPLOYEE} using key {SECRET}",
            },
            links=[Link(agent.get_span_context(), {"reason": f"asked by {EMAIL}"})],
        ) as chat:
            chat_context = set_span_in_context(chat)
            logger.emit(
                event_name="gen_ai.user.message",
                context=chat_context,
                body={"content": f"My SSN is {SSN} and my IP {IP}"},
                attributes={"user.phone": PHONE},
            )
            logger.emit(
                event_name="gen_ai.choice",
                context=chat_context,
                body={"index": 0, "message": {"content": f"Noted, {EMAIL}"}},
            )
            chat.add_event("gen_ai.evaluation.result", {
                "gen_ai.evaluation.name": "pii_leak",
                "gen_ai.evaluation.score.value": 0.0,
                "gen_ai.evaluation.explanation": f"the answer repeats {EMAIL}",
            })  # fmt: skip
        with tracer.start_as_current_span(
            "execute_tool send_email",
            context=context,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "send_email",
                "gen_ai.tool.call.arguments": json.dumps({"to": EMAIL, "card": CARD}),
                "gen_ai.tool.call.result": f"sent to {EMAIL} from {IP}",
            },
        ) as tool:
            error = {"exception.type": "SMTPError", "exception.message": f"mailbox {EMAIL} is full"}
            tool.add_event("exception", error)
            tool.set_status(Status(StatusCode.ERROR, f"could not reach {PHONE}"))
    tracers.shutdown()
    loggers.shutdown()


def every_text(server: Server) -> dict[str, str]:
    """Every table's rows as text (JSON columns as their JSON), by table."""
    texts = {}
    with server.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(sa.select(table)).all()
            texts[table.name] = "\n".join(
                json.dumps(list(row), default=str, ensure_ascii=False) + "\n" + repr(tuple(row))
                for row in rows
            )
    return texts


@pytest.fixture(scope="module")
def stored(server: Server) -> dict[str, str]:
    for number, door in enumerate(DOORS):
        run_agent(door(server, f"redaction-{number}"))
    return every_text(server)


def test_no_raw_personal_data_reaches_any_table(stored: dict[str, str]) -> None:
    for table, text in stored.items():
        for needle in NEEDLES:
            assert needle not in text, f"{needle!r} stored in {table}"


@pytest.mark.parametrize(
    ("table", "mask"),
    [
        ("spans", "[REDACTED:email]"),
        ("spans", "[REDACTED:phone]"),
        ("spans", "[REDACTED:credit_card]"),
        ("spans", "[REDACTED:us_ssn]"),
        ("spans", "[REDACTED:ipv4]"),
        ("spans", "[REDACTED:secret]"),
        ("spans", "[REDACTED:employee]"),
        ("traces", "for [REDACTED:email]"),  # the root's name and its input and output
        ("log_records", "My SSN is [REDACTED:us_ssn] and my IP [REDACTED:ipv4]"),
        ("scores", "the answer repeats [REDACTED:email]"),
    ],
)
def test_the_masks_are_stored_with_the_text_around_them(
    stored: dict[str, str], table: str, mask: str
) -> None:
    assert mask in stored[table]


def masked_spans(server: Server, project: str) -> list[dict[str, Any]]:
    """The project's spans as the API would read them, ids and times left out."""
    columns = [Span.name, Span.input_messages, Span.output_messages, Span.system_instructions,
               Span.tool_arguments, Span.tool_result, Span.status_message, Span.attributes,
               Span.events, Span.links]  # fmt: skip
    query = (
        sa.select(*columns)
        .join(Project, Project.id == Span.project_id)
        .where(Project.name == project)
        .order_by(Span.name)
    )
    with server.engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        row["events"] = [{**event, "time_unix_nano": 0} for event in row["events"]]
        row["links"] = [{**link, "trace_id": "", "span_id": ""} for link in row["links"]]
    return rows


def test_every_door_stores_the_same_masked_spans(server: Server, stored: dict[str, str]) -> None:
    seen = [masked_spans(server, f"redaction-{number}") for number in range(len(DOORS))]
    assert len(seen[0]) == 3
    assert seen[0] == seen[1] == seen[2]


def test_masks_keep_the_conversation_readable(server: Server, stored: dict[str, str]) -> None:
    """The span is masked before the normalizer reads it, and a mask never breaks the
    JSON it sits in (the email written with \\u escapes included): the prompt is still
    read as messages."""
    chat, tool, agent = masked_spans(server, "redaction-0")  # by name
    assert agent["name"] == "invoke_agent support for [REDACTED:email]"
    assert agent["input_messages"] == [
        {
            "role": "user",
            "content": "I am [REDACTED:email], card [REDACTED:credit_card], call [REDACTED:phone]",
        }
    ]
    assert agent["output_messages"] == [
        {"role": "assistant", "content": "Refund sent to [REDACTED:email]"}
    ]
    assert (
        chat["system_instructions"] == "Escalate to [REDACTED:employee] using key [REDACTED:secret]"
    )
    assert json.loads(tool["tool_arguments"]) == {
        "to": "[REDACTED:email]",
        "card": "[REDACTED:credit_card]",
    }
    assert tool["status_message"] == "could not reach [REDACTED:phone]"
