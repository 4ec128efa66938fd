"""The demo's agent traffic as OTLP request bodies, for benchmarks on realistic traces.

The same generator ``reasonlens demo`` feeds the server with (several agents and
conventions, message histories that grow turn by turn, tool calls, errors); spans
are encoded the way the SDK's OTLP exporter encodes them, ``batch`` spans per body.
"""

from __future__ import annotations

from datetime import UTC, datetime

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reasonlens.demo.generate import generate

SPANS_PER_TRACE = 6.2  # the demo's average at its default mix


def _anchor() -> datetime:
    """The current hour: a kept store then holds "the last 24 hours", as the dashboard's
    default windows expect; the seed alone decides everything but the times."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def demo_bodies(spans: int, batch: int, seed: int = 42) -> tuple[list[bytes], int]:
    """At least ``spans`` spans of demo traffic as bodies; returns them and the span count."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    generate(processor, traces=max(1, round(spans / SPANS_PER_TRACE)), seed=seed, anchor=_anchor())
    finished = exporter.get_finished_spans()
    bodies = [
        encode_spans(finished[start : start + batch]).SerializeToString()
        for start in range(0, len(finished), batch)
    ]
    return bodies, len(finished)
