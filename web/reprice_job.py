"""Re-pricing stored costs from the dashboard or the API: one job at a time per server
process, run in a daemon thread, its progress kept here for the pages and the API.

RepriceError
 ├── BadRequest   a ``since`` that is not a time, a project that does not exist (422)
 └── Busy         a re-pricing is already running in this process (409)

``store.pricing.reprice`` commits a batch of traces at a time, so ingest goes on while
it runs. The thread checks a stop flag after each batch: a server that stops mid-run
ends the job there (every batch it committed is consistent, and running it again
computes the rest) and waits for it a few seconds at most; being a daemon, a thread
stuck on a locked database ends with the process. :func:`reprice_jobs` is the router
lifespan that owns the job (``web/api_reprice.py``), as ``request.state.reprice_job``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import Request

from store.pricing.reprice import reprice, traces_to_reprice
from store.principals import Principal
from store.projects import project_id, project_name_problem
from store.times import BadParameter, time_ns

log = logging.getLogger(__name__)

Status = Literal["idle", "running", "done", "error"]
STOPPED = "the server stopped before the re-pricing finished"
GRACE_SECONDS = 5.0
MAX_SINCE_CHARS = 100


class RepriceError(Exception):
    """A re-pricing that was not started, and why."""


class BadRequest(RepriceError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field  # which input was wrong: "since" or "project"


class Busy(RepriceError):
    """One re-pricing at a time: two would walk and rewrite the same rows."""


class _Cancelled(Exception):
    """Raised in the job's thread (from its progress callback) when the server stops."""


@dataclass(frozen=True, slots=True)
class JobState:
    """The latest re-pricing of this server process, as the page and the API show it."""

    status: Status = "idle"
    project: str | None = None  # None: every project
    since: str | None = None  # as given: 30d, 2026-11-01; None: all time
    traces_done: int = 0
    traces_total: int | None = None  # None until counted; grows if ingest adds some
    calls: int = 0  # model calls read
    changed: int = 0  # spans whose cost changed
    traces: int = 0  # traces whose cost was recomputed (known when done)
    seconds: float | None = None  # so far while running; the whole run once finished
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RepriceJob:
    """The one re-pricing a server process runs at a time, and its state."""

    def __init__(self, *, grace_s: float = GRACE_SECONDS) -> None:
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._state = JobState()
        self._began = 0.0  # time.monotonic() at the start
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self) -> JobState:
        with self._lock:
            if self._state.status == "running":
                return replace(self._state, seconds=time.monotonic() - self._began)
            return self._state

    def start(self, engine: sa.Engine, *, project: str | None, since: str | None) -> JobState:
        """Start re-pricing the traces of ``project`` (None: all) that started at
        ``since`` or later (None: all time); :class:`BadRequest` or :class:`Busy`
        when nothing was started."""
        since = since.strip() if since and since.strip() else None
        if since is not None and len(since) > MAX_SINCE_CHARS:
            raise BadRequest("since", f"since: at most {MAX_SINCE_CHARS} characters")
        try:
            since_ns = time_ns("since", since)
        except BadParameter as error:
            raise BadRequest("since", str(error)) from None
        if since_ns is not None and not -(2**63) <= since_ns < 2**63:
            raise BadRequest("since", f"since: {since!r} is out of range")
        found = None
        if project is not None:
            # PostgreSQL refuses NUL in text: a bad name is the caller's error, not a 500.
            problem = project_name_problem(project)
            if problem is None and "\x00" in project:
                problem = "a project name must not contain the NUL character"
            if problem is not None:
                raise BadRequest("project", f"project: {problem}")
            with engine.connect() as connection:
                found = project_id(connection, project)
            if found is None:
                raise BadRequest("project", f"no project named {project!r}")
        with self._lock:
            if self._stopping.is_set():
                raise Busy("the server is stopping")
            if self._state.status == "running":
                raise Busy(
                    "a re-pricing is running already; it was not started again "
                    "(wait for it to finish, then start another if needed)"
                )
            self._state = JobState("running", project, since, started_at=datetime.now(UTC))
            self._began = time.monotonic()
            self._thread = threading.Thread(
                target=self._run, args=(engine, found, since_ns), name="reprice", daemon=True
            )
            self._thread.start()
        return self.state()

    def stop(self) -> None:
        """Ask the running job to end after its batch; wait for it a little."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._grace_s)

    def join(self, timeout: float) -> bool:
        """Wait for the job's thread to end; whether it did (for tests and shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _run(self, engine: sa.Engine, found: int | None, since_ns: int | None) -> None:
        try:
            with engine.connect() as connection:
                total = traces_to_reprice(connection, since_ns=since_ns, project_id=found)
            self._update(traces_total=total)
            done = reprice(engine, since_ns=since_ns, project_id=found, progress=self._progress)
        except _Cancelled:
            self._finish("error", error=STOPPED)
        except Exception as error:
            log.exception("re-pricing failed")
            # The first line: SQLAlchemy's next ones carry the statement and its parameters.
            first = (str(error).splitlines() or [""])[0]
            self._finish("error", error=f"{type(error).__name__}: {first}")
        else:
            log.info("re-priced %d model calls: %d changed", done.calls, done.changed)
            self._finish(
                "done", calls=done.calls, changed=done.changed, traces=done.traces,
                seconds=done.seconds,
            )  # fmt: skip

    def _progress(self, traces_done: int, calls: int, changed: int) -> None:
        if self._stopping.is_set():
            raise _Cancelled
        with self._lock:
            total = max(self._state.traces_total or 0, traces_done)
            self._state = replace(
                self._state,
                traces_done=traces_done,
                traces_total=total,
                calls=calls,
                changed=changed,
            )

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def _finish(self, status: Status, **changes: Any) -> None:
        with self._lock:
            seconds = changes.pop("seconds", time.monotonic() - self._began)
            self._state = replace(
                self._state,
                status=status,
                seconds=seconds,
                finished_at=datetime.now(UTC),
                **changes,
            )


@asynccontextmanager
async def reprice_jobs(app: Any) -> AsyncIterator[dict[str, RepriceJob]]:
    """A router lifespan: the job for the app's lifetime, as ``request.state.reprice_job``."""
    job = RepriceJob()
    try:
        yield {"reprice_job": job}
    finally:
        await asyncio.to_thread(job.stop)


def visible_state(request: Request) -> JobState:
    """The job as the request's principal may see it: one job serves the whole server,
    so a principal limited to some projects learns only whether a job of another
    project (or of all) runs, as starting one would tell it, never its figures."""
    state: JobState = request.state.reprice_job.state()
    principal: Principal = request.state.principal
    if principal.everything or (state.project is not None and principal.may(state.project, "read")):
        return state
    return JobState(status="running" if state.status == "running" else "idle")
