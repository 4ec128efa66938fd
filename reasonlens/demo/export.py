"""A span processor that exports in batches, makes the producer wait, and counts outcomes.

The SDK's BatchSpanProcessor drops spans once its queue is full: right for an app
that must never block, wrong for a generator that writes a day of traffic in seconds.
Here ``on_end`` blocks while the exporter threads are behind, and every export result
is counted, so the demo can say that all spans were acknowledged (or how many were not).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)

Batch = list[ReadableSpan]


@dataclass(slots=True)
class ExportStats:
    exported: int = 0  # spans the receiver acknowledged
    failed: int = 0  # spans in batches whose export failed (after the exporter's retries)


class BlockingBatchProcessor(SpanProcessor):
    """One thread per exporter, fed batches of ``batch_size`` through a short queue."""

    def __init__(self, exporters: Sequence[SpanExporter], batch_size: int = 1000) -> None:
        self.stats = ExportStats()
        self._batch_size = batch_size
        self._buffer: Batch = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=2 * len(exporters))
        self._exporters = list(exporters)
        self._threads = [
            threading.Thread(
                target=self._work, args=(exporter,), name=f"demo-export-{n}", daemon=True
            )
            for n, exporter in enumerate(self._exporters)
        ]
        for thread in self._threads:
            thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self._buffer.append(span)
            if len(self._buffer) < self._batch_size:
                return
            batch, self._buffer = self._buffer, []
        self._queue.put(batch)  # blocks while every exporter is busy and the queue is full

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what is buffered and wait for every queued batch.

        The wait is bounded by the exporters' own timeouts and retries, not by
        ``timeout_millis``: the demo must know every batch's outcome.
        """
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._queue.put(batch)
        self._queue.join()
        return True

    def shutdown(self) -> None:
        self.force_flush()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        for exporter in self._exporters:
            exporter.shutdown()

    def _work(self, exporter: SpanExporter) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                try:
                    result = exporter.export(batch)
                except Exception:
                    log.exception("exporting %d spans failed", len(batch))
                    result = SpanExportResult.FAILURE
                with self._lock:
                    if result is SpanExportResult.SUCCESS:
                        self.stats.exported += len(batch)
                    else:
                        self.stats.failed += len(batch)
            finally:
                self._queue.task_done()
