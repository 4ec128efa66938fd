"""Question-answering agent runs sent to a running server with the real OpenTelemetry SDK.

Each run is a root agent span (its input and output as OpenInference ``input.value``
and ``output.value``) with one tool call under it; the dataset item id, when given,
is an attribute of the root span or of the tool span. For correctness evals that
link traces to dataset items as an instrumented agent would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from evals import frames
from evals.selection import trace_filter
from evals.suite import Selection
from tests.server import Server

ITEM_ATTRIBUTE = "dataset.item_id"


@dataclass(frozen=True)
class Run:
    question: str
    answer: str | None
    item_id: str | None = None
    item_on: Literal["root", "tool"] = "root"
    tool_result: str = '{"found": true}'


def send_runs(server: Server, project: str, runs: list[Run], agent: str = "qa") -> list[str]:
    """Send the runs, each a trace; their trace ids in order, once stored."""
    provider = TracerProvider(resource=Resource({"service.name": "qa-agent"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{server.url}/v1/traces", headers={"x-reasonlens-project": project}
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("qa-agent")
    trace_ids = []
    for run in runs:
        root: dict[str, str] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "input.value": run.question,
        }
        if run.answer is not None:
            root["output.value"] = run.answer
        tool = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup",
            "gen_ai.tool.call.result": run.tool_result,
        }
        if run.item_id is not None:
            (root if run.item_on == "root" else tool)[ITEM_ATTRIBUTE] = run.item_id
        with tracer.start_as_current_span(f"invoke_agent {agent}", attributes=root) as span:
            trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            with tracer.start_as_current_span("execute_tool lookup", attributes=tool):
                pass
    assert provider.force_flush(60_000)
    provider.shutdown()
    return trace_ids


def project_chunks(
    server: Server, project: str, span_columns: frozenset[str] = frozenset()
) -> list[frames.Chunk]:
    """The project's traces as the runner reads them."""
    with server.engine.connect() as connection:
        ids = frames.selected_ids(connection, trace_filter(Selection(project=project)))
    return list(frames.chunks(server.engine, np.asarray(ids), size=500, span_columns=span_columns))
