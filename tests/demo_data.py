"""Load the demo's realistic traffic into a running test server, through OTLP/HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from reasonlens.demo.export import BlockingBatchProcessor, BlockingLogProcessor
from reasonlens.demo.generate import Summary, generate
from tests.server import Server

# Fixed, so page tests see the same traces on every run (times are relative to it).
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Loaded:
    project: str
    summary: Summary


def load_demo(
    server: Server, project: str, traces: int = 200, seed: int = 7, anchor: datetime = ANCHOR
) -> Loaded:
    headers = {"x-reasonlens-project": project}
    spans = BlockingBatchProcessor([OTLPSpanExporter(f"{server.url}/v1/traces", headers=headers)])
    logs = BlockingLogProcessor([OTLPLogExporter(f"{server.url}/v1/logs", headers=headers)])
    try:
        summary = generate(spans, traces=traces, seed=seed, anchor=anchor, log_processor=logs)
    finally:
        spans.shutdown()
        logs.shutdown()
    assert spans.stats.failed == 0 and logs.stats.failed == 0
    return Loaded(project, summary)
