"""Reading, scoring and writing a run's chunks at the same time, on every core.

Scoring is pandas and Python; reading spans and writing scores are database work that
makes a Python object of every value. In threads the three share one GIL, and a
database thread that drops it around each row's step waits behind the scorer to take
it back: measured on 100,000 traces, threads were no faster than doing the three in
turn. So a large run reads in one process and writes in another while the runner's
process scores (and keeps every evaluator's state). Chunks and score columns cross by
pickle through bounded queues, so memory stays a few chunks whatever the selection's
size. A small run, where starting two interpreters would cost more than it saves, and
an in-memory database, which another process cannot open, do the same steps in line.

Items are pickled by the sender before they are queued: a queue pickles in a thread
of its own and drops, with a printed traceback, an item it cannot pickle, which would
be a chunk never scored or scores never written. An error in either process is raised
in the runner at its next step; a dead runner's processes notice and exit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import queue
import threading
import time
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any, Protocol, TypeVar

import numpy as np
import sqlalchemy as sa

from evals import frames
from store import evals as store_evals
from store.engine import create_engine

T = TypeVar("T")
Columns = dict[str, list[Any]]

# Spawned, not forked: the runner may live in a threaded server, and a fork copies
# whatever lock another thread held at that moment.
_PROCESSES = multiprocessing.get_context("spawn")
_POLL_S = 0.2


class ChunkSource(Protocol):
    busy_s: float  # time spent reading, for the run's timings

    def __iter__(self) -> Iterator[frames.Chunk]: ...

    def close(self) -> None: ...


class ScoreSink(Protocol):
    busy_s: float  # time spent writing

    def submit(self, columns: Columns) -> None: ...

    def drain(self) -> None:
        """Return once every submitted score is committed; raise the first failure."""

    def close(self) -> None: ...


def can_use_processes(engine: sa.Engine) -> bool:
    return not (engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"))


def open_stages(
    engine: sa.Engine,
    ids: np.ndarray,
    *,
    size: int,
    span_columns: Iterable[str],
    logs: bool,
    project_id: int,
    run_id: int,
    processes: bool,
) -> tuple[ChunkSource, ScoreSink]:
    """The run's reading and writing, in their own processes or in line."""
    read = _ReadPlan(ids, size, frozenset(span_columns), logs)
    if not processes:
        return _InlineReader(engine, read), _InlineWriter(engine, project_id, run_id)
    url = engine.url.render_as_string(hide_password=False)
    reader = _ReaderProcess(url, read)
    try:
        return reader, _WriterProcess(url, project_id, run_id)
    except BaseException:
        reader.close()
        raise


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    ids: np.ndarray
    size: int
    span_columns: frozenset[str]
    logs: bool

    def chunks(self, engine: sa.Engine) -> Iterator[frames.Chunk]:
        return frames.chunks(
            engine, self.ids, size=self.size, span_columns=self.span_columns, logs=self.logs
        )


def _write(engine: sa.Engine, project_id: int, run_id: int, columns: Columns) -> None:
    with engine.begin() as connection:
        store_evals.add_score_columns(connection, project_id, columns, run_id=run_id)


class _InlineReader:
    def __init__(self, engine: sa.Engine, plan: _ReadPlan) -> None:
        self._chunks = plan.chunks(engine)
        self.busy_s = 0.0

    def __iter__(self) -> Iterator[frames.Chunk]:
        while True:
            mark = time.perf_counter()
            chunk = next(self._chunks, None)
            self.busy_s += time.perf_counter() - mark
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self._chunks.close()


class _InlineWriter:
    def __init__(self, engine: sa.Engine, project_id: int, run_id: int) -> None:
        self._target = (engine, project_id, run_id)
        self.busy_s = 0.0

    def submit(self, columns: Columns) -> None:
        mark = time.perf_counter()
        _write(*self._target, columns)
        self.busy_s += time.perf_counter() - mark

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


class StageFailed(RuntimeError):
    """The reading or writing process failed; the message is its exception's."""


class _ReaderProcess:
    """Chunks read ahead in a child process, at most ``depth`` waiting."""

    def __init__(self, url: str, plan: _ReadPlan, depth: int = 2) -> None:
        self._queue: Any = _PROCESSES.Queue(maxsize=depth)
        self._process = _PROCESSES.Process(
            target=_read_in_child, args=(url, plan, self._queue), name="eval-read", daemon=True
        )
        self._process.start()
        self.busy_s = 0.0

    def __iter__(self) -> Iterator[frames.Chunk]:
        while True:
            kind, payload = _receive(self._queue, self._process)
            if kind == "chunk":
                yield payload
            elif kind == "done":
                self.busy_s = payload
                return
            else:
                raise StageFailed(payload)

    def close(self) -> None:
        _stop(self._process)


class _WriterProcess:
    """Score columns committed in a child process, one transaction per chunk."""

    def __init__(self, url: str, project_id: int, run_id: int, depth: int = 2) -> None:
        self._inbox: Any = _PROCESSES.Queue(maxsize=depth)
        self._outbox: Any = _PROCESSES.Queue()
        self._process = _PROCESSES.Process(
            target=_write_in_child,
            args=(url, project_id, run_id, self._inbox, self._outbox),
            name="eval-write",
            daemon=True,
        )
        self._process.start()
        self.busy_s = 0.0

    def submit(self, columns: Columns) -> None:
        self._put(columns)

    def _put(self, item: Columns | None) -> None:
        data = _pack(item)
        while True:
            self._raise_failure()
            try:
                self._inbox.put(data, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def drain(self) -> None:
        self._put(None)  # the end
        kind, payload = _receive(self._outbox, self._process)
        if kind != "done":
            raise StageFailed(payload)
        self.busy_s = payload

    def _raise_failure(self) -> None:
        try:
            kind, payload = pickle.loads(self._outbox.get_nowait())
        except queue.Empty:
            if not self._process.is_alive():
                exitcode = self._process.exitcode
                raise StageFailed(f"the writing process exited ({exitcode})") from None
            return
        raise StageFailed(payload if kind == "error" else "the writing process stopped early")

    def close(self) -> None:
        _stop(self._process)


def _pack(item: Any) -> bytes:
    return pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)


def _receive(inbox: Any, sender: BaseProcess) -> tuple[str, Any]:
    while True:
        try:
            return pickle.loads(inbox.get(timeout=_POLL_S))
        except queue.Empty:
            if not sender.is_alive():
                # Its last message may have landed between the get and the check.
                try:
                    return pickle.loads(inbox.get(timeout=_POLL_S))
                except queue.Empty:
                    return "error", f"the {sender.name} process exited ({sender.exitcode})"


def _stop(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
    process.join()


def _read_in_child(url: str, plan: _ReadPlan, outbox: Any) -> None:
    engine = create_engine(url)
    busy = 0.0
    try:
        chunks = plan.chunks(engine)
        while True:
            mark = time.perf_counter()
            chunk = next(chunks, None)
            busy += time.perf_counter() - mark
            if chunk is None:
                break
            _send(outbox, ("chunk", chunk))
        _send(outbox, ("done", busy))
    except Exception as error:
        _send(outbox, ("error", f"{type(error).__name__}: {error}"))
    finally:
        engine.dispose()


def _write_in_child(url: str, project_id: int, run_id: int, inbox: Any, outbox: Any) -> None:
    engine = create_engine(url)
    busy = 0.0
    try:
        while True:
            columns = _take(inbox)
            if columns is None:
                break
            mark = time.perf_counter()
            _write(engine, project_id, run_id, columns)
            busy += time.perf_counter() - mark
        outbox.put(_pack(("done", busy)))
    except Exception as error:
        outbox.put(_pack(("error", f"{type(error).__name__}: {error}")))
    finally:
        engine.dispose()


def _send(outbox: Any, item: tuple[str, Any]) -> None:
    """Put, waiting for room only while the runner lives."""
    data = _pack(item)
    while True:
        try:
            outbox.put(data, timeout=_POLL_S)
            return
        except queue.Full:
            _exit_if_orphaned()


def _take(inbox: Any) -> Any:
    while True:
        try:
            return pickle.loads(inbox.get(timeout=_POLL_S))
        except queue.Empty:
            _exit_if_orphaned()


def _exit_if_orphaned() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():
        raise SystemExit(1)


class AsyncLane:
    """An event loop in its own thread for evaluators that wait on the network (the
    judge): the caller's thread may already run a loop (a notebook, a test driving a
    browser), where a second one cannot start. Started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="eval-async", daemon=True
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop = self._loop
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        loop.close()
        self._loop = self._thread = None
