"""The group-commit writer: one thread, a bounded queue, a future per request.

Each OTLP request hands its rows (spans, or log records) to :meth:`Writer.write` and
awaits a future. The writer thread drains everything queued (up to ``max_batch_spans``
rows) into one transaction
and resolves every future after COMMIT, so a request is answered only once its spans
are durable, while concurrent requests share one commit (and one fsync). When the
queue holds ``max_queue_spans`` the request is refused with :class:`Overloaded`, which
the receiver turns into 503 + Retry-After: backpressure, never a silent drop.

If a shared transaction fails, each request in it is retried alone, so one bad batch
fails only its own request.

The evaluation results an agent sent with its spans or logs travel in the same batch
(``store/batch.py``) and are written in the same transaction, so an acknowledged
request has its scores too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError

from collector.errors import Overloaded
from store.batch import LogBatch, SpanBatch
from store.nul_free import without_nul
from store.write import write_logs, write_spans

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    batch: SpanBatch | LogBatch
    size: int
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop = field(repr=False)

    def resolve(self, error: BaseException | None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the client went away; the spans are stored all the same
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


# SQLite: the writer checkpoints the WAL itself after this many rows, between two
# transactions. The maintenance thread's PASSIVE checkpoints (store/maintenance.py) run
# while the writer keeps appending, so they never catch up with the WAL's end, and
# SQLite starts a WAL over only once every frame is in the database: under steady
# ingest the WAL grew by ~4 KB a span, every frame written into newly allocated file
# blocks. Checkpointing here, after the thread has copied most frames, lets the next
# transaction write the WAL from its start again, over blocks the kernel already holds.
WAL_RESTART_ROWS = 5_000

OnCommit = Callable[[list[SpanBatch]], None]
"""Told the span batches of each commit, in the writer thread: it must only take note."""


class Writer:
    def __init__(
        self,
        engine: Engine,
        *,
        max_queue_spans: int,
        max_batch_spans: int,
        on_commit: OnCommit | None = None,
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._max_queue_spans = max_queue_spans
        self._max_batch_spans = max_batch_spans
        self._queue: deque[_Pending] = deque()
        self._queued_spans = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._writing_spans = 0
        self._sqlite = engine.dialect.name == "sqlite"
        self._since_checkpoint = 0

    async def write(self, batch: SpanBatch | LogBatch) -> None:
        """Store the rows; returns once they are committed."""
        size = batch.size
        if size == 0:
            return
        loop = asyncio.get_running_loop()
        pending = _Pending(batch, size, loop.create_future(), loop)
        with self._condition:
            if self._stopping or self._thread is None:
                raise Overloaded("the writer is not running")
            # A batch larger than the whole queue is still taken when the queue is
            # empty, or it could never be stored.
            if self._queue and self._queued_spans + size > self._max_queue_spans:
                raise Overloaded(
                    f"write queue full ({self._queued_spans} spans and log records waiting); "
                    "retry later"
                )
            self._queue.append(pending)
            self._queued_spans += size
            self._condition.notify()
        await pending.future

    @property
    def queued_spans(self) -> int:
        """Rows (spans and log records) waiting for the writer."""
        return self._queued_spans

    @property
    def writing_spans(self) -> int:
        """Spans in the transaction being committed now."""
        return self._writing_spans

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="span-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Refuse new writes, commit everything queued, then stop the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _take(self) -> list[_Pending] | None:
        with self._condition:
            while not self._queue and not self._stopping:
                self._condition.wait()
            if not self._queue:
                return None
            batch = [self._queue.popleft()]
            size = batch[0].size
            while self._queue and size + self._queue[0].size <= self._max_batch_spans:
                item = self._queue.popleft()
                batch.append(item)
                size += item.size
            self._queued_spans -= size
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            self._commit_and_resolve(batch)
            # After the answers: a request waits for its COMMIT, never for a checkpoint.
            self._checkpoint_now_and_then(sum(item.size for item in batch))

    def _commit_and_resolve(self, batch: list[_Pending]) -> None:
        if len(batch) == 1:
            batch[0].resolve(self._commit_alone(batch[0]))
            return
        try:
            self._commit(batch)
        except Exception:
            log.warning("group commit of %d requests failed; retrying each alone", len(batch))
            for item in batch:
                item.resolve(self._commit_alone(item))
            return
        for item in batch:
            item.resolve(None)

    def _commit_alone(self, item: _Pending) -> BaseException | None:
        """Commit one request's rows; the error that refused them, if any.

        PostgreSQL refuses the NUL character that SQLite stores; rather than losing the
        request, its rows are written again with NUL replaced (``store.write``).
        """
        try:
            self._commit([item])
            return None
        except DataError as error:
            if self._engine.dialect.name != "postgresql":
                log.exception("write failed")
                return error
            item.batch = without_nul(item.batch)
        except Exception as error:
            log.exception("write failed")
            return error
        try:
            self._commit([item])
            return None
        except Exception as error:
            log.exception("write failed, NUL characters replaced")
            return error

    def _commit(self, batch: list[_Pending]) -> None:
        self._writing_spans = sum(item.size for item in batch)
        try:
            spans = [item.batch for item in batch if isinstance(item.batch, SpanBatch)]
            logs = [item.batch for item in batch if isinstance(item.batch, LogBatch)]
            with self._engine.begin() as connection:
                if spans:
                    write_spans(connection, spans)
                if logs:
                    write_logs(connection, logs)
            if spans and self._on_commit is not None:
                self._on_commit(spans)
        finally:
            self._writing_spans = 0

    def _checkpoint_now_and_then(self, rows: int) -> None:
        if not self._sqlite:
            return
        self._since_checkpoint += rows
        if self._since_checkpoint < WAL_RESTART_ROWS:
            return
        self._since_checkpoint = 0
        try:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the rows are committed: a checkpoint can wait for the next
            log.warning("WAL checkpoint after commit failed", exc_info=True)
