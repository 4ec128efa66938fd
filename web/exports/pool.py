"""Worker processes that render a long export's ranges side by side.

One process renders CSV at about 45,000 rows a second, half of it the database handing
over column values and half writing lines; both are CPU in the interpreter, so a
second core helps only through a second process. An export is cut into ranges
(``store.exports``); the workers read and render ranges ahead of the response, which
takes their bytes in order. The server's own memory stays where it was: a range's rows
live and die in a worker, and only a few ranges' bytes wait here at a time.

Workers start with the first export and stop after a minute without one, so a server
that never exports pays nothing for them. A worker that dies costs the export nothing:
its ranges, and the rest, are rendered here instead.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from store.engine import create_engine

# fn(engine, *task) -> the range's CSV lines as bytes. A module-level function: the
# workers import it by name.
Render = Callable[..., bytes]

_worker_engine: sa.Engine | None = None


class ExportPool:
    def __init__(self, database_url: str, workers: int, *, idle_s: float = 60.0) -> None:
        self._database_url = database_url
        self._workers = workers
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._active = 0
        self._idle_timer: threading.Timer | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def render(
        self, engine: sa.Engine, fn: Render, tasks: Iterable[tuple[Any, ...]]
    ) -> Iterator[bytes]:
        """``fn(engine, *task)`` of every task, in the tasks' order. The first task is
        rendered here while the workers take the next ones (and, on the first export,
        start), so the first rows leave at once."""
        tasks = iter(tasks)
        first = next(tasks, None)
        if first is None:
            return
        if self._workers == 0:
            yield fn(engine, *first)
            for task in tasks:
                yield fn(engine, *task)
            return
        executor = self._begin()
        pending: deque[tuple[tuple[Any, ...], Future[bytes] | None]] = deque()
        try:
            ahead = 2 * self._workers
            for task in tasks:
                pending.append((task, self._submit(executor, fn, task)))
                if len(pending) >= ahead:
                    break
            yield fn(engine, *first)
            while pending:
                task, future = pending.popleft()
                for more in tasks:
                    pending.append((more, self._submit(executor, fn, more)))
                    break
                yield self._result(engine, fn, task, future)
        finally:
            for _, future in pending:
                if future is not None:
                    future.cancel()
            self._end()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            if self._idle_timer is not None:
                self._idle_timer.cancel()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _submit(
        self, executor: ProcessPoolExecutor, fn: Render, task: tuple[Any, ...]
    ) -> Future[bytes] | None:
        """None if the pool is broken: the task is then rendered here."""
        try:
            with _interrupts_blocked():  # a worker started now must not see Ctrl-C
                return executor.submit(_run, fn, task)
        except (BrokenProcessPool, RuntimeError):
            return None

    def _result(
        self, engine: sa.Engine, fn: Render, task: tuple[Any, ...], future: Future[bytes] | None
    ) -> bytes:
        if future is not None:
            try:
                return future.result()
            except BrokenProcessPool:
                self._discard_broken()
        return fn(engine, *task)

    def _begin(self) -> ProcessPoolExecutor:
        with self._lock:
            self._active += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._executor is None:
                # spawn, not fork: the server has threads (DB pools, workers) by now.
                self._executor = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self._database_url,),
                )
            return self._executor

    def _end(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._executor is not None:
                self._idle_timer = threading.Timer(self._idle_s, self._stop_if_idle)
                self._idle_timer.daemon = True
                self._idle_timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            if self._active:
                return
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _discard_broken(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def render_ranges(
    engine: sa.Engine, fn: Render, tasks: Iterable[tuple[Any, ...]], pool: ExportPool | None
) -> Iterator[bytes]:
    """``fn(engine, *task)`` of every task in order, by the pool or, without one, here;
    empty ranges are left out (an empty body chunk could read as the end of it)."""
    if pool is None:
        rendered = (fn(engine, *task) for task in tasks)
    else:
        rendered = pool.render(engine, fn, tasks)
    return (chunk for chunk in rendered if chunk)


def _start_worker(database_url: str) -> None:
    global _worker_engine
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us; Ctrl-C is its
    _worker_engine = create_engine(database_url)


def _run(fn: Render, task: tuple[Any, ...]) -> bytes:
    assert _worker_engine is not None
    return fn(_worker_engine, *task)


@contextmanager
def _interrupts_blocked() -> Iterator[None]:
    """A child inherits the signal mask of the thread that starts it, and a spawned
    worker imports for a while before its initializer can ignore SIGINT."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
