"""Reading, scoring and writing a run's chunks at the same time.

Scoring is Python (it holds the GIL); reading spans and writing scores are mostly
SQLite or PostgreSQL work in C, which releases it. So the next chunk is read in one
thread and the last chunk's scores are written in another while the runner's thread
scores: on two cores most database time hides behind scoring. Each queue holds at
most ``depth`` chunks, so memory stays a few chunks whatever the selection's size.
An error in either thread is raised in the runner's thread at its next step.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetch(Generic[T]):
    """Items of ``source`` produced ahead in a thread; ``busy_s`` is the thread's time."""

    def __init__(self, source: Iterator[T], depth: int = 2) -> None:
        self._source = source
        self._items: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.busy_s = 0.0
        self._thread = threading.Thread(target=self._produce, name="eval-read", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                mark = time.perf_counter()
                item = next(self._source, _DONE)
                self.busy_s += time.perf_counter() - mark
                self._put(item)
                if item is _DONE:
                    return
        except BaseException as error:  # handed to the consumer, raised there
            self._put(error)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


class Background:
    """Calls run one at a time in a thread, at most ``depth`` waiting."""

    def __init__(self, depth: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eval-write")
        self._pending: list[Future[None]] = []
        self._depth = depth
        self.busy_s = 0.0

    def submit(self, call: Callable[[], None]) -> None:
        while len(self._pending) >= self._depth:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(self._timed, call))

    def _timed(self, call: Callable[[], None]) -> None:
        mark = time.perf_counter()
        try:
            call()
        finally:
            self.busy_s += time.perf_counter() - mark

    def drain(self) -> None:
        """Wait for every call; the first error is raised."""
        while self._pending:
            self._pending.pop(0).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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
