"""The demo generator run in memory: its spans and log records, for tests to read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reasonlens.demo import Summary, generate

ANCHOR = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# (traces, seed) -> (summary, spans by trace id)
Generated = tuple[Summary, dict[str, list[ReadableSpan]]]
# (summary, spans, log records), in the order they were written
Logged = tuple[Summary, list[ReadableSpan], list[ReadableLogRecord]]


def run(traces: int, seed: int = 42, anchor: datetime = ANCHOR) -> Generated:
    exporter = InMemorySpanExporter()
    summary = generate(SimpleSpanProcessor(exporter), traces=traces, seed=seed, anchor=anchor)
    by_trace: dict[str, list[ReadableSpan]] = defaultdict(list)
    for span in exporter.get_finished_spans():
        by_trace[format(span.context.trace_id, "032x")].append(span)
    return summary, dict(by_trace)


def run_logged(traces: int, seed: int = 42) -> Logged:
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    summary = generate(
        SimpleSpanProcessor(spans),
        traces=traces,
        seed=seed,
        anchor=ANCHOR,
        log_processor=SimpleLogRecordProcessor(logs),
    )
    return summary, list(spans.get_finished_spans()), list(logs.get_finished_logs())


def dumped(spans: Sequence[ReadableSpan]) -> list[str]:
    """Spans as JSON, to compare two runs."""
    return [span.to_json(indent=None) for span in spans]
