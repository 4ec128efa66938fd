"""NUL characters in span and log content: stored, never a 500, through either door.

SQLite keeps U+0000; PostgreSQL cannot store it in text or JSONB, so there the writer
replaces it with U+FFFD rather than lose the rest of the request.
"""

from __future__ import annotations

import json

import grpc
import httpx

from tests.databases import BACKEND
from tests.otlp import Ids, LogSpec, SpanSpec, logs_request, post, post_logs, request
from tests.server import Server

NUL_TEXT = "before\x00after"
STORED = NUL_TEXT if BACKEND == "sqlite" else "before\ufffdafter"


def spans_with_nul(seed: str) -> tuple[str, bytes]:
    ids = Ids(seed)
    trace = ids.trace()
    messages = [{"role": "user", "parts": [{"type": "text", "content": NUL_TEXT}]}]
    spec = SpanSpec(
        trace,
        ids.span(),
        f"chat {NUL_TEXT}",
        1,
        2,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": NUL_TEXT,
            "gen_ai.input.messages": json.dumps(messages),
            f"key{NUL_TEXT}": NUL_TEXT,
        },
    )
    return trace, request([spec]).SerializeToString()


def check_trace(server: Server, trace: str, project: str) -> None:
    response = httpx.get(f"{server.url}/api/traces/{trace}", params={"project": project})
    assert response.status_code == 200, response.text
    (span,) = response.json()["spans"]
    assert span["name"] == f"chat {STORED}"
    assert span["model"] == STORED
    assert span["input_messages"] == [{"role": "user", "content": STORED}]
    assert span["attributes"][f"key{STORED}"] == STORED


def test_http_spans_with_nul_are_stored(server: Server, project: str) -> None:
    trace, body = spans_with_nul("http nul")
    response = post(server.url, body, project=project)
    assert response.status_code == 200, response.text
    check_trace(server, trace, project)


def test_grpc_spans_with_nul_are_stored(server: Server, project: str) -> None:
    trace, body = spans_with_nul("grpc nul")
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        export(body, metadata=(("x-reasonlens-project", project),), timeout=30)
    check_trace(server, trace, project)


def test_log_records_with_nul_are_stored(server: Server, project: str) -> None:
    ids = Ids("log nul")
    trace, span = ids.trace(), ids.span()
    assert post(server.url, request([SpanSpec(trace, span, "chat", 1, 2)]), project=project)
    record = LogSpec(
        "gen_ai.user.message",
        {"content": NUL_TEXT},
        trace,
        span,
        attributes={NUL_TEXT: NUL_TEXT},
    )
    response = post_logs(server.url, logs_request([record]), project=project)
    assert response.status_code == 200, response.text
    detail = httpx.get(f"{server.url}/api/traces/{trace}", params={"project": project}).json()
    (log,) = detail["spans"][0]["logs"]
    assert log["body"] == {"content": STORED}
    assert log["attributes"] == {STORED: STORED}
    assert detail["spans"][0]["input_messages"] == [{"role": "user", "content": STORED}]
