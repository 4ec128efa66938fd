"""Eval runs started from the API or the dashboard, executed one at a time off the event loop.

The request that starts a run only writes its row (status ``running``, through
``evals.runner.start_run``) and answers at once; one worker thread per process executes
the queued runs in turn, reporting each one's progress. :func:`background_runs` is the
lifespan that owns the worker (``web/api_evals.py`` hands it to FastAPI, which enters
it inside the app's own lifespan, so the database engine outlives it).

Stopping never waits on a run for long: the run in progress is cancelled when its
current chunk is done (the runner stores it as ``error``), runs still waiting are
stored as ``error`` too, so a stopped server leaves no run that claims to be running.
A chunk that outlasts the grace period (an LLM judge waiting on its endpoint) is not
waited for: its run is marked stopped and the daemon thread ends with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from evals.runner import RunError, StartedRun, execute_run
from evals.suite import Suite
from store import evals as store_evals
from store.models import EvalRun

log = logging.getLogger(__name__)

STOPPED = "the server stopped before the run finished"
MAX_WAITING = 100  # runs queued behind the one in progress; beyond this, Busy
GRACE_SECONDS = 5.0


class Busy(RuntimeError):
    """Too many runs are waiting already; try again later."""


class Cancelled(RuntimeError):
    """Raised inside a run (from its progress callback) when the server stops."""


@dataclass(frozen=True, slots=True)
class Progress:
    done: int  # traces scored so far
    total: int | None  # traces selected; None until the selection is read
    waiting: bool  # queued behind another run, not started


@dataclass(frozen=True, slots=True)
class _Job:
    engine: sa.Engine
    suite: Suite
    started: StartedRun


class BackgroundRuns:
    """A queue of started runs and the one thread that executes them in order."""

    def __init__(self, *, max_waiting: int = MAX_WAITING, grace_s: float = GRACE_SECONDS):
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_waiting)
        self._grace_s = grace_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._progress: dict[int, Progress] = {}
        self._current: _Job | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="eval-runs", daemon=True)
        self._thread.start()

    def submit(self, engine: sa.Engine, suite: Suite, started: StartedRun) -> None:
        """Queue a started run; :class:`Busy` (the run is then stored as an error) when
        the queue is full or the server is stopping."""
        with self._lock:
            self._progress[started.run_id] = Progress(0, None, waiting=True)
        try:
            if self._stopping.is_set():
                raise queue.Full
            self._queue.put_nowait(_Job(engine, suite, started))
        except queue.Full:
            self._forget(started.run_id)
            reason = STOPPED if self._stopping.is_set() else "too many runs waiting"
            _mark_stopped(engine, [started.run_id], reason)
            raise Busy(reason) from None

    def progress(self, run_id: int) -> Progress | None:
        """How far a run of this process has got; None for a run it does not hold."""
        with self._lock:
            return self._progress.get(run_id)

    def stop(self) -> None:
        """Cancel the run in progress, fail the waiting ones, wait a little for the thread."""
        self._stopping.set()
        waiting: list[_Job] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                waiting.append(job)
        for job in waiting:
            self._forget(job.started.run_id)
            _mark_stopped(job.engine, [job.started.run_id], STOPPED)
        # Wakes an idle worker; full only if a submit raced the drain (the worker is busy).
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(self._grace_s)
            current = self._current
            if self._thread.is_alive() and current is not None:
                log.warning("eval run %d still scoring at shutdown", current.started.run_id)
                _mark_stopped(current.engine, [current.started.run_id], STOPPED)

    def join(self, timeout: float) -> bool:
        """Wait for the worker thread to end after :meth:`stop`; whether it did."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _work(self) -> None:
        while not self._stopping.is_set():
            job = self._queue.get()
            if job is None or self._stopping.is_set():
                if job is not None:
                    _mark_stopped(job.engine, [job.started.run_id], STOPPED)
                break
            self._current = job
            try:
                self._execute(job)
            finally:
                self._current = None
                self._forget(job.started.run_id)

    def _execute(self, job: _Job) -> None:
        run_id = job.started.run_id

        def report(done: int, total: int) -> None:
            if self._stopping.is_set():
                raise Cancelled(STOPPED)
            with self._lock:
                self._progress[run_id] = Progress(done, total, waiting=False)

        with self._lock:
            self._progress[run_id] = Progress(0, None, waiting=False)
        try:
            result = execute_run(job.engine, job.suite, job.started, progress=report)
        except RunError as error:
            # The message, not the exception: its traceback holds the runner's frames
            # and with them the chunk reader's open connection, for as long as a log
            # handler keeps the record.
            log.warning("eval run %d ended in error: %s", run_id, str(error))
        except Exception:  # the database went away while storing the error itself
            log.exception("eval run %d could not be finished", run_id)
        else:
            log.info("eval run %d %s", run_id, result.status)

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._progress.pop(run_id, None)


def _mark_stopped(engine: sa.Engine, run_ids: list[int], reason: str) -> None:
    """Store runs that will never be executed as errors (only those still running)."""
    try:
        with engine.begin() as connection:
            for run_id in run_ids:
                status = connection.scalar(sa.select(EvalRun.status).where(EvalRun.id == run_id))
                if status == "running":
                    store_evals.finish_run(connection, run_id, "error", None, None, reason)
    except Exception:
        log.exception("could not mark eval runs %s as stopped", run_ids)


@asynccontextmanager
async def background_runs(app: Any) -> AsyncIterator[dict[str, BackgroundRuns]]:
    """A router lifespan: the worker for the app's lifetime, as ``request.state.eval_runs``."""
    runs = BackgroundRuns()
    runs.start()
    try:
        yield {"eval_runs": runs}
    finally:
        await asyncio.to_thread(runs.stop)
