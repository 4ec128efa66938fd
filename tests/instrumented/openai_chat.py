"""One tool-calling conversation through the real ``openai`` client, instrumented, exported.

Run by ``tests/test_instrumentation_openai.py`` as
``python -m tests.instrumented.openai_chat --instrumentation openai-v2 ...``: a user
question, the model's ``get_weather`` call, the tool result, the model's answer, all
under one root span so the conversation is one trace. Content capture is left to the
instrumentation's own environment variables, which the caller sets. Prints
``{"trace_id": ...}`` on stdout once the providers have flushed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from tests.fake_openai import QUESTION, REQUEST_MODEL, SYSTEM_PROMPT, TOOL_RESULT, WEATHER_TOOL

INSTRUMENTATIONS = ("openai-v2", "openinference")
PROTOCOLS = ("http/protobuf", "http/json")


def configure_warnings() -> None:
    """Fail on any warning, as the suite does (``filterwarnings = error``).

    Set before the instrumentation, SDK and exporters are imported, so import-time
    warnings count too. The pinned versions raise none; if an upgrade brings a
    deprecation, ignore that one warning here by message and module, never wholesale.
    """
    warnings.simplefilter("error")


UTIL_GENAI_PIN = (
    "opentelemetry-instrumentation-openai-v2 2.4b0 needs opentelemetry-util-genai 0.4b0: "
    "1.0b0 and later always take the newest-conventions path (ignoring "
    "OTEL_SEMCONV_STABILITY_OPT_IN) and 1.2b0 dropped the module it imports"
)


def _instrument_openai_v2(tracer_provider: Any, logger_provider: Any) -> None:
    """Instrument with openai-v2, refusing a util-genai that would silently change its output.

    The check follows ``instrument()``, which reads ``OTEL_SEMCONV_STABILITY_OPT_IN``.
    """
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    except ModuleNotFoundError as error:
        raise SystemExit(f"{UTIL_GENAI_PIN} ({error})") from error
    from opentelemetry.util.genai.utils import is_experimental_mode

    OpenAIInstrumentor().instrument(
        tracer_provider=tracer_provider, logger_provider=logger_provider
    )
    opted_in = "gen_ai_latest_experimental" in os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    if is_experimental_mode() != opted_in:
        raise SystemExit(UTIL_GENAI_PIN)


def instrument(name: str, tracer_provider: Any, logger_provider: Any) -> None:
    """Patch ``openai`` with one instrumentation, imported only here."""
    if name == "openai-v2":
        _instrument_openai_v2(tracer_provider, logger_provider)
    else:
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)


def _complete(client: Any, messages: list[dict[str, Any]], stream: bool) -> dict[str, Any]:
    """One chat completion; returns the assistant message to append to the conversation."""
    if not stream:
        response = client.chat.completions.create(
            model=REQUEST_MODEL, messages=messages, tools=[WEATHER_TOOL], temperature=0.0
        )
        message: dict[str, Any] = response.choices[0].message.model_dump(exclude_none=True)
        return message
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    chunks = client.chat.completions.create(
        model=REQUEST_MODEL,
        messages=messages,
        tools=[WEATHER_TOOL],
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in chunks:
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(
                    delta.index,
                    {"id": delta.id, "type": "function", "function": {"name": "", "arguments": ""}},
                )
                if delta.function is not None:
                    call["function"]["name"] += delta.function.name or ""
                    call["function"]["arguments"] += delta.function.arguments or ""
    assembled: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        assembled["tool_calls"] = [calls[index] for index in sorted(calls)]
    return assembled


def converse(client: Any, tracer: Any, stream: bool) -> str:
    """Question, tool call, tool result, answer; returns the trace id (32 hex)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": QUESTION},
    ]
    with tracer.start_as_current_span("weather-agent") as root:
        call = _complete(client, messages, stream)
        messages.append(call)
        for tool_call in call["tool_calls"]:
            messages.append(
                {"role": "tool", "tool_call_id": tool_call["id"], "content": TOOL_RESULT}
            )
        _complete(client, messages, stream)
        return format(root.get_span_context().trace_id, "032x")


def _exporters(endpoint: str, project: str, protocol: str) -> tuple[Any, Any]:
    """The real OTLP/HTTP span and log exporters, in the encoding asked for."""
    if protocol == "http/json":
        from opentelemetry.exporter.otlp.json.http import _log_exporter as logs
        from opentelemetry.exporter.otlp.json.http import trace_exporter as traces
    else:
        from opentelemetry.exporter.otlp.proto.http import _log_exporter as logs
        from opentelemetry.exporter.otlp.proto.http import trace_exporter as traces
    headers = {"x-reasonlens-project": project}
    return (
        traces.OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers, timeout=10),
        logs.OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers, timeout=10),
    )


def run(
    instrumentation: str,
    base_url: str,
    span_exporter: Any,
    log_exporter: Any | None,
    stream: bool,
    project: str,
) -> str:
    """Set up providers around the exporters, instrument, converse, flush; returns the trace id."""
    from openai import OpenAI
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource({"service.name": "weather-agent", "reasonlens.project": project})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    if log_exporter is not None:
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    instrument(instrumentation, tracer_provider, logger_provider)
    with OpenAI(base_url=base_url, api_key="sk-fake", max_retries=0, timeout=10) as client:
        trace_id = converse(client, tracer_provider.get_tracer("weather-agent"), stream)
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return trace_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instrumentation", choices=INSTRUMENTATIONS, required=True)
    parser.add_argument("--openai-base-url", required=True, help="the fake server's /v1 root")
    parser.add_argument("--endpoint", required=True, help="reasonlens base URL")
    parser.add_argument("--project", required=True)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="http/protobuf")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--export-logs", action="store_true", help="also export log events")
    args = parser.parse_args(argv)
    configure_warnings()
    spans, logs = _exporters(args.endpoint, args.project, args.protocol)
    trace_id = run(
        args.instrumentation,
        args.openai_base_url,
        spans,
        logs if args.export_logs else None,
        args.stream,
        args.project,
    )
    print(json.dumps({"trace_id": trace_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
