"""The real ``openai`` client, instrumented, against a fake OpenAI server, into reasonlens.

Each conversation runs ``tests/instrumented/openai_chat.py`` in a subprocess (the two
instrumentations patch the same module, so they never share a process): the client
asks, the fake model calls ``get_weather``, the client sends the tool result, the
model answers. The instrumentation's spans (and, where it sends content that way, its
log events) go through the real OTel SDK exporters to the real server; the stored
spans must carry exactly what the fake model reported.

What each instrumentation emits, as checked by running it:

- opentelemetry-instrumentation-openai-v2 2.4b0 (with opentelemetry-util-genai 0.4b0,
  the only release on which both of its documented modes work), default mode: the
  v1.30 conventions (``gen_ai.system``, ``gen_ai.usage.{input,output}_tokens``,
  ``gen_ai.openai.response.service_tier``); content only in log events
  (``gen_ai.{system,user,assistant,tool}.message``, ``gen_ai.choice``, body = the
  message), and only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
  Its stream wrapper never sets ``gen_ai.response.finish_reasons``.
- openai-v2 with ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``:
  ``gen_ai.provider.name``; with ``..._CAPTURE_MESSAGE_CONTENT=SPAN_ONLY`` the
  ``gen_ai.input.messages``/``gen_ai.output.messages`` JSON strings on the span; with
  ``EVENT_ONLY`` the same, structured, in one ``gen_ai.client.inference.operation.details``
  log event per call (``SPAN_AND_EVENT``: both).
- Neither openai-v2 mode reports cached or reasoning tokens.
- openinference-instrumentation-openai 0.1.66: ``openinference.span.kind=LLM``, the
  flattened ``llm.input_messages.*``/``llm.output_messages.*``, ``llm.token_count.*``
  with cache-read and reasoning details, ``llm.system`` (no ``llm.provider``), the
  request model only in ``llm.invocation_parameters``, the raw request and response
  JSON in ``input.value``/``output.value``; content needs no switch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fake_openai import (
    ANSWER,
    ANSWER_REPLY,
    QUESTION,
    REQUEST_MODEL,
    RESPONSE_MODEL,
    SYSTEM_PROMPT,
    TOOL_ARGUMENTS,
    TOOL_CALL_ID,
    TOOL_CALL_REPLY,
    TOOL_NAME,
    TOOL_RESULT,
    FakeOpenAI,
    Reply,
)
from tests.paths import REPO_ROOT
from tests.server import Server

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"


@dataclass(frozen=True)
class Instrumentation:
    """One way of running an instrumentation, and what it is known to report."""

    name: str
    convention: str
    env: dict[str, str] = field(default_factory=dict)
    protocol: str = "http/protobuf"
    # openai-v2 2.4b0 reads only prompt_tokens and completion_tokens from the usage.
    reports_usage_details: bool = True
    # OpenInference puts the raw request/response JSON in input.value/output.value,
    # which the normalizer keeps as the display text (tests/test_normalize_fixtures.py).
    raw_display_text: bool = False
    # Keys the instrumentation sends that no canonical column holds (request
    # parameters, response ids, tool schemas, audio counts): reported in ``unmapped`` by
    # design and kept in ``attributes``. Any other unmapped key is a normalizer gap.
    columnless: frozenset[str] = frozenset()


OPENAI_V2_SPANS = Instrumentation(
    "openai-v2",
    "otel_genai",
    env={OPT_IN: "gen_ai_latest_experimental", CAPTURE: "SPAN_ONLY"},
    reports_usage_details=False,
    columnless=frozenset(
        {
            "gen_ai.request.temperature",
            "gen_ai.response.id",
            "openai.response.service_tier",
            "openai.response.system_fingerprint",
        }
    ),
)
# The newest conventions with content only in the gen_ai.client.inference.operation.details
# log event (structured gen_ai.input.messages / gen_ai.output.messages attributes).
OPENAI_V2_EVENTS = Instrumentation(
    "openai-v2",
    "otel_genai",
    env={OPT_IN: "gen_ai_latest_experimental", CAPTURE: "EVENT_ONLY"},
    reports_usage_details=False,
    columnless=OPENAI_V2_SPANS.columnless,
)
OPENAI_V2_DEFAULT = Instrumentation(
    "openai-v2",
    "otel_genai_deprecated",
    env={CAPTURE: "true"},
    reports_usage_details=False,
    columnless=frozenset(
        {"gen_ai.request.temperature", "gen_ai.response.id", "gen_ai.openai.response.service_tier"}
    ),
)
# OpenInference goes over OTLP/HTTP JSON, so both encodings meet a real exporter.
OPENINFERENCE = Instrumentation(
    "openinference",
    "openinference",
    protocol="http/json",
    raw_display_text=True,
    columnless=frozenset(
        {
            "llm.token_count.prompt_details.audio",
            "llm.token_count.completion_details.audio",
            "llm.tools.0.tool.json_schema",
        }
    ),
)

STREAMING = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def converse(
    server: Server,
    fake: FakeOpenAI,
    project: str,
    setup: Instrumentation,
    stream: bool,
    export_logs: bool = False,
) -> dict[str, Any]:
    """Run the instrumented client in a subprocess; return the stored trace from the API.

    ``export_logs`` also sends the log events to ``/v1/logs``; without it they are
    dropped in the client, so a test of span attributes does not depend on that endpoint.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(setup.env)
    command = [
        sys.executable, "-m", "tests.instrumented.openai_chat",
        "--instrumentation", setup.name, "--openai-base-url", fake.base_url,
        "--endpoint", server.url, "--project", project, "--protocol", setup.protocol,
    ]  # fmt: skip
    if stream:
        command.append("--stream")
    if export_logs:
        command.append("--export-logs")
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # Warnings, export failures and instrumentation complaints all land on stderr.
    assert result.stderr == ""
    # The round trip really happened on the wire: the tool result went back to the model.
    first, second = fake.requests[-2:]
    assert (first.get("stream", False), second.get("stream", False)) == (stream, stream)
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": TOOL_CALL_ID,
        "content": TOOL_RESULT,
    }
    trace_id = json.loads(result.stdout)["trace_id"]
    response = httpx.get(f"{server.url}/api/traces/{trace_id}", params={"project": project})
    assert response.status_code == 200, response.text
    trace: dict[str, Any] = response.json()
    return trace


def llm_spans(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The two chat spans, in call order, checked to sit under the conversation's root."""
    [root] = trace["spans"]
    assert root["name"] == "weather-agent"
    children: list[dict[str, Any]] = root["children"]
    assert [child["kind"] for child in children] == ["llm", "llm"]
    return children


def tool_call_message() -> dict[str, Any]:
    return {
        "role": "assistant",
        "tool_calls": [{"id": TOOL_CALL_ID, "name": TOOL_NAME, "arguments": TOOL_ARGUMENTS}],
    }


def comparable(messages: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Messages with tool arguments decoded: instrumentations may re-serialize the JSON."""
    if messages is None:
        return None
    out = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls:
            calls = [{**call, "arguments": json.loads(call["arguments"])} for call in calls]
            message = {**message, "tool_calls": calls}
        out.append(message)
    return out


EXPECTED_INPUT = [
    [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION}],
    [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": QUESTION},
        tool_call_message(),
        {"role": "tool", "content": TOOL_RESULT, "tool_call_id": TOOL_CALL_ID},
    ],
]
EXPECTED_OUTPUT = [[tool_call_message()], [{"role": "assistant", "content": ANSWER}]]


def assert_call(span: dict[str, Any], reply: Reply, setup: Instrumentation) -> None:
    """Model, provider and usage of one chat span, as the fake model reported them."""
    assert span["kind"] == "llm"
    assert span["model"] == RESPONSE_MODEL
    assert span["request_model"] == REQUEST_MODEL
    assert span["provider"] == "openai"
    assert span["input_tokens"] == reply.usage.prompt
    assert span["output_tokens"] == reply.usage.completion
    assert span["total_tokens"] == reply.usage.total
    if setup.reports_usage_details:
        assert span["cache_read_tokens"] == reply.usage.cached
        assert span["reasoning_tokens"] == reply.usage.reasoning
    else:
        assert (span["cache_read_tokens"], span["reasoning_tokens"]) == (None, None)
    assert span["cache_write_tokens"] is None
    assert span["status"] == "ok"
    assert setup.convention in span["conventions"]
    assert set(span["unmapped"]) <= setup.columnless


def assert_outcome(spans: list[dict[str, Any]], setup: Instrumentation) -> None:
    """Finish reasons and the answer as display text, from the span's own attributes."""
    assert [span["finish_reasons"] for span in spans] == [
        [TOOL_CALL_REPLY.finish_reason],
        [ANSWER_REPLY.finish_reason],
    ]
    answer = spans[1]
    if setup.raw_display_text:
        assert answer["output_text"] == answer["attributes"]["output.value"]
        assert json.loads(answer["output_text"])["choices"][0]["message"]["content"] == ANSWER
    else:
        assert answer["output_text"] == ANSWER


def assert_messages(spans: list[dict[str, Any]]) -> None:
    """The conversation: the tool call out of the first call, its result into the second."""
    for span, expected_in, expected_out in zip(spans, EXPECTED_INPUT, EXPECTED_OUTPUT, strict=True):
        assert comparable(span["input_messages"]) == comparable(expected_in)
        assert comparable(span["output_messages"]) == comparable(expected_out)


def assert_trace(
    server: Server, trace: dict[str, Any], project: str, setup: Instrumentation
) -> None:
    """The rollup sums the two calls, and the listing finds the trace by the served model."""
    replies = (TOOL_CALL_REPLY, ANSWER_REPLY)
    listing = httpx.get(
        f"{server.url}/api/traces", params={"project": project, "model": RESPONSE_MODEL}
    ).json()
    assert [found["trace_id"] for found in listing["traces"]] == [trace["trace_id"]]
    assert trace["project"] == project
    assert trace["service"] == "weather-agent"
    assert (trace["span_count"], trace["llm_call_count"]) == (3, 2)
    assert trace["input_tokens"] == sum(reply.usage.prompt for reply in replies)
    assert trace["output_tokens"] == sum(reply.usage.completion for reply in replies)
    if setup.reports_usage_details:
        assert trace["cache_read_tokens"] == sum(reply.usage.cached for reply in replies)
        assert trace["reasoning_tokens"] == sum(reply.usage.reasoning for reply in replies)


@STREAMING
@pytest.mark.parametrize("setup", [OPENAI_V2_SPANS, OPENINFERENCE], ids=lambda s: s.name)
def test_conversation_is_stored_with_messages_and_usage(
    server: Server,
    fake_openai: FakeOpenAI,
    project: str,
    setup: Instrumentation,
    stream: bool,
) -> None:
    """Content on the span itself: every canonical field from the span's attributes."""
    trace = converse(server, fake_openai, project, setup, stream)

    assert_trace(server, trace, project, setup)
    spans = llm_spans(trace)
    for span, reply in zip(spans, (TOOL_CALL_REPLY, ANSWER_REPLY), strict=True):
        assert_call(span, reply, setup)
    assert_outcome(spans, setup)
    assert_messages(spans)


@STREAMING
def test_openai_v2_default_mode_span_fields(
    server: Server, fake_openai: FakeOpenAI, project: str, stream: bool
) -> None:
    """The v1.30 shape: ``gen_ai.system`` names the provider; content is not on the span."""
    setup = OPENAI_V2_DEFAULT
    trace = converse(server, fake_openai, project, setup, stream)

    assert_trace(server, trace, project, setup)
    spans = llm_spans(trace)
    for span, reply in zip(spans, (TOOL_CALL_REPLY, ANSWER_REPLY), strict=True):
        assert_call(span, reply, setup)
        assert span["attributes"]["gen_ai.system"] == "openai"
        assert "gen_ai.input.messages" not in span["attributes"]
        # Its legacy stream wrapper never fills finish_reasons; gen_ai.choice has them.
        assert span["finish_reasons"] == (None if stream else [reply.finish_reason])


@STREAMING
@pytest.mark.parametrize(
    "setup", [OPENAI_V2_DEFAULT, OPENAI_V2_EVENTS], ids=["message-events", "operation-details"]
)
def test_openai_v2_messages_come_from_log_events(
    server: Server, fake_openai: FakeOpenAI, project: str, setup: Instrumentation, stream: bool
) -> None:
    """Content travels as log events to /v1/logs; the API joins them to their spans.

    Default mode sends one event per message (``gen_ai.user.message``, ...,
    ``gen_ai.choice``); EVENT_ONLY sends one ``gen_ai.client.inference.operation.details``
    event per call. Either way the span's own attributes carry no content.
    """
    trace = converse(server, fake_openai, project, setup, stream, export_logs=True)

    spans = llm_spans(trace)
    for span, reply in zip(spans, (TOOL_CALL_REPLY, ANSWER_REPLY), strict=True):
        assert_call(span, reply, setup)
        assert "gen_ai.input.messages" not in span["attributes"]
    assert_messages(spans)
