"""Span and log record processors that export in batches, make the producer wait, and count.

The SDK's batch processors drop spans and log records once their queue is full:
right for an app that must never block, wrong for a generator that writes a day of
traffic in seconds. Here ``on_end``/``on_emit`` block while the exporter threads are
behind, and every export result is counted, so the demo can say that everything was
acknowledged (or how much was not).
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(slots=True)
class ExportStats:
    exported: int = 0  # items the receiver acknowledged
    failed: int = 0  # items in batches whose export failed (after the exporter's retries)


class _Batcher(Generic[Item]):
    """One thread per exporter, fed batches of ``batch_size`` through a short queue."""

    def __init__(
        self, exports: Sequence[Callable[[list[Item]], bool]], batch_size: int, name: str
    ) -> None:
        self.stats = ExportStats()
        self._batch_size = batch_size
        self._buffer: list[Item] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[list[Item] | None] = queue.Queue(maxsize=2 * len(exports))
        self._name = name
        self._threads = [
            threading.Thread(target=self._work, args=(export,), name=f"{name}-{n}", daemon=True)
            for n, export in enumerate(exports)
        ]
        for thread in self._threads:
            thread.start()

    def add(self, item: Item) -> None:
        with self._lock:
            self._buffer.append(item)
            if len(self._buffer) < self._batch_size:
                return
            batch, self._buffer = self._buffer, []
        self._queue.put(batch)  # blocks while every exporter is busy and the queue is full

    def flush(self) -> None:
        """Export what is buffered and wait for every queued batch.

        The wait is bounded by the exporters' own timeouts and retries: the demo must
        know every batch's outcome.
        """
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._queue.put(batch)
        self._queue.join()

    def close(self) -> None:
        self.flush()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self, export: Callable[[list[Item]], bool]) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                try:
                    succeeded = export(batch)
                except Exception:
                    log.exception("%s: exporting %d items failed", self._name, len(batch))
                    succeeded = False
                with self._lock:
                    if succeeded:
                        self.stats.exported += len(batch)
                    else:
                        self.stats.failed += len(batch)
            finally:
                self._queue.task_done()


class BlockingBatchProcessor(SpanProcessor):
    """Spans, in batches of ``batch_size``, one exporting thread per exporter."""

    def __init__(self, exporters: Sequence[SpanExporter], batch_size: int = 1000) -> None:
        self._exporters = list(exporters)
        self._batcher = _Batcher[ReadableSpan](
            [_span_export(exporter) for exporter in self._exporters], batch_size, "demo-spans"
        )

    @property
    def stats(self) -> ExportStats:
        return self._batcher.stats

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self._batcher.add(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Waits for every outcome, whatever ``timeout_millis`` says (see ``_Batcher.flush``)."""
        self._batcher.flush()
        return True

    def shutdown(self) -> None:
        self._batcher.close()
        for exporter in self._exporters:
            exporter.shutdown()


class BlockingLogProcessor(LogRecordProcessor):
    """Log records, batched and exported like :class:`BlockingBatchProcessor`'s spans."""

    def __init__(self, exporters: Sequence[LogRecordExporter], batch_size: int = 1000) -> None:
        self._exporters = list(exporters)
        self._batcher = _Batcher[ReadableLogRecord](
            [_log_export(exporter) for exporter in self._exporters], batch_size, "demo-logs"
        )

    @property
    def stats(self) -> ExportStats:
        return self._batcher.stats

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        # As the SDK's BatchLogRecordProcessor does: a read-only copy, without the
        # context (which holds the span) the record was emitted in.
        record = copy.copy(log_record.log_record)
        record.context = Context()
        self._batcher.add(
            ReadableLogRecord(
                log_record=record,
                resource=log_record.resource or Resource.create({}),
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._batcher.flush()
        return True

    def shutdown(self) -> None:
        self._batcher.close()
        for exporter in self._exporters:
            exporter.shutdown()


def _span_export(exporter: SpanExporter) -> Callable[[list[ReadableSpan]], bool]:
    return lambda batch: exporter.export(batch) is SpanExportResult.SUCCESS


def _log_export(exporter: LogRecordExporter) -> Callable[[list[ReadableLogRecord]], bool]:
    return lambda batch: exporter.export(batch) is LogRecordExportResult.SUCCESS
